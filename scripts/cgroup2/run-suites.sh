#!/bin/sh
# In the cgroup v2 guest, as the delegated service jobworker-suites.service: runs the suites
# (those named in scripts/cgroup2/suites.txt of the copy, one per line, else the default ones; or
# the one command in scripts/cgroup2/exec.sh),
# checks that nothing was created outside the delegated subtree, and prints the status on a line
# the host looks for.
cd /project || exit 1
echo "guest: $(uname -r), cgroup: $(stat -fc %T /sys/fs/cgroup), service cgroup: $(cut -d: -f3 /proc/self/cgroup)"
echo "guest: controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
export PATH=/project/node_modules/.bin:/usr/sbin:/usr/bin:/sbin:/bin NO_COLOR=1
# Under emulation stripping the TypeScript took half of a server's 17 s start, which every test
# that starts a server paid again. The project's own cache (bin/compile-cache.js), portable: the
# servers the suites start fill it, and the systemd unit's server, which runs the same files from
# /opt/jobworker, finds them there.
export NODE_COMPILE_CACHE=/project/node_modules/.cache/jobworker/compile NODE_COMPILE_CACHE_PORTABLE=1
# The suites' guards against hangs, stretched: under emulation a server takes seconds to start,
# and a durability test took 84 s of its 120 s (30 s x 4) on a busy host: 6 leaves room.
export JOBWORKER_TEST_TIME_SCALE=6
suites="test/isolation/*.test.ts test/durability/*.test.ts test/operations/systemd-service.test.ts"
if [ -s scripts/cgroup2/suites.txt ]; then suites=$(cat scripts/cgroup2/suites.txt); fi
export JOBWORKER_TEST_SERVER_LOG=/tmp/servers.log
if [ -s scripts/cgroup2/exec.sh ]; then
  # `npm run test:cgroup2 -- --exec COMMAND...`: that command instead of the suites.
  sh scripts/cgroup2/exec.sh
else
  # shellcheck disable=SC2086 # the globs are meant to expand
  node --test --test-concurrency=1 --test-timeout=600000 $suites
fi
status=$?
if [ "$status" != 0 ] && [ -s /tmp/servers.log ]; then
  echo "guest: the servers' last log lines:"
  tail -40 /tmp/servers.log
fi
if [ -e /sys/fs/cgroup/jobworker ]; then
  echo "guest: FAIL: /sys/fs/cgroup/jobworker exists: the server wrote outside its delegated subtree"
  status=1
fi
echo "JOBWORKER-GUEST-EXIT=$status"
