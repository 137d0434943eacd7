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
# The suites' guards against hangs, stretched by how much slower than a host this guest runs
# now, measured: `node -e 0` here against the 88 ms it takes on a host on a slow day, for which
# the guards are set. The guest's speed follows its host's load: with others' suites running
# there it ran 3.5 times slower than on a quiet host, and a fixed 6 (a durability test had taken
# 84 s of its 120 s at 4) failed two durability tests at their 180 s. At least 6.
node_ms() {
  started=$(date +%s%N)
  node -e 0
  echo $((($(date +%s%N) - started) / 1000000))
}
node_ms >/dev/null # the first start reads Node from the disk
ms=$((($(node_ms) + $(node_ms) + $(node_ms)) / 3))
scale=$(((ms + 87) / 88))
if [ "$scale" -lt 6 ]; then scale=6; fi
echo "guest: node -e 0 takes $ms ms here: the hang guards are stretched ${scale}x"
export JOBWORKER_TEST_TIME_SCALE=$scale
suites="test/isolation/*.test.ts test/durability/*.test.ts test/operations/systemd-service.test.ts"
# Of the default suites, the tests whose subject is alike on v1 and v2 are left to npm test on
# the host: scripts/cgroup2/host-only.txt says which, what each costs here, and why.
set --
if [ -s scripts/cgroup2/suites.txt ]; then
  suites=$(cat scripts/cgroup2/suites.txt)
else
  while IFS= read -r pattern; do
    case "$pattern" in '' | '#'*) continue ;; esac
    echo "guest: left to the host: $pattern"
    set -- "$@" "--test-skip-pattern=$pattern"
  done <scripts/cgroup2/host-only.txt
fi
export JOBWORKER_TEST_SERVER_LOG=/tmp/servers.log
if [ -s scripts/cgroup2/exec.sh ]; then
  # `npm run test:cgroup2 -- --exec COMMAND...`: that command instead of the suites.
  sh scripts/cgroup2/exec.sh
else
  # shellcheck disable=SC2086 # the globs are meant to expand
  node --test --test-concurrency=1 --test-timeout=600000 "$@" \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=./scripts/test-file-times.ts --test-reporter-destination=/tmp/file-times.jsonl \
    $suites
fi
status=$?
if [ -s /tmp/file-times.jsonl ]; then
  echo "guest: each file's time:"
  cat /tmp/file-times.jsonl
fi
if [ "$status" != 0 ] && [ -s /tmp/servers.log ]; then
  echo "guest: the servers' last log lines:"
  tail -40 /tmp/servers.log
fi
if [ -e /sys/fs/cgroup/jobworker ]; then
  echo "guest: FAIL: /sys/fs/cgroup/jobworker exists: the server wrote outside its delegated subtree"
  status=1
fi
echo "JOBWORKER-GUEST-EXIT=$status"
