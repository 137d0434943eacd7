// The network step alone: the supervisor's flags for each mode a job's spec names, and egress
// refused (before anything is set up) where the host cannot give it. The kernel's side, with real
// jobs and a test host, is test/network/egress.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LimitNotEnforceableError } from '../../src/errors.ts';
import { firewallRuleset } from '../../src/launcher/network/egress-firewall.ts';
import { serverNames } from '../../src/launcher/network/job-links.ts';
import { NetworkStep } from '../../src/launcher/steps/network-step.ts';
import { launchRequest } from '../helpers/launch-request.ts';

describe('the network step', () => {
  const root = new NetworkStep({ namespaces: true, egress: undefined });

  it('gives a job with no network its own namespace with only loopback', async () => {
    assert.deepEqual((await root.prepare(launchRequest({ network: 'none' }))).args, ['--netns']);
    assert.equal(root.protections.networkNamespace, true);
    // /healthz says so: a server that offers no egress gives none.
    assert.equal(root.protections.egress, false);
  });

  it("leaves a host job the host's network", async () => {
    assert.deepEqual((await root.prepare(launchRequest({ network: 'host' }))).args, []);
  });

  it('refuses egress where the server offers none, or cannot make namespaces', () => {
    assert.throws(() => root.check(launchRequest({ network: 'egress' })), LimitNotEnforceableError);
    const unprivileged = new NetworkStep({ namespaces: false, egress: undefined });
    assert.throws(
      () => unprivileged.check(launchRequest({ network: 'egress' })),
      /network cannot be enforced on this host: egress needs network namespaces/,
    );
    unprivileged.check(launchRequest({ network: 'none' }));
  });
});

describe("egress's firewall", () => {
  const policy = { jobCidr: '10.200.0.0/16', allow: [], dns: ['192.0.2.53'], testPublic: [] };

  it('drops whatever a job sends the host, and other jobs, before any allow rule', () => {
    const rules = firewallRuleset('jobworker_abcde', 'jwabcde', {
      ...policy,
      allow: [{ cidr: '10.0.0.0/8' }, { cidr: '192.0.2.0/24', ports: { from: 80, to: 443 } }],
    }).split('\n');
    const at = (text: string): number => rules.findIndex((line) => line.includes(text));
    assert.ok(at('iifname "jwabcde*" jump job_to_host') > 0);
    assert.ok(at('ip daddr @never drop') < at('ip daddr 10.0.0.0/8 accept'));
    assert.ok(at('th dport 80-443 accept') > 0);
    assert.ok(at('oifname "jwabcde*" drop') > 0, 'nothing connects in');
  });

  it('without a list, reaches public unicast addresses only', () => {
    const rules = firewallRuleset('jobworker_abcde', 'jwabcde', policy);
    assert.match(rules, /ip daddr @not_public drop\n\s+accept/);
    assert.match(rules, /169\.254\.0\.0\/16/);
    assert.match(rules, /100\.64\.0\.0\/10/);
  });

  it("names a server's things after its data directory", () => {
    const names = serverNames('/var/lib/jobworker-a');
    assert.match(names.table, /^jobworker_[0-9a-f]{5}$/);
    assert.equal(names.interfacePrefix.length + 8, 15, "the kernel's longest interface name");
    assert.notEqual(names.tag, serverNames('/var/lib/jobworker-b').tag);
  });
});
