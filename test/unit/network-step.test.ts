// The network step alone: the supervisor's flags for each mode a job's spec names, and egress
// refused (before anything is set up) where the host cannot give it. The kernel's side, with real
// jobs and a test host, is test/network/egress.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LimitNotEnforceableError } from '../../src/errors.ts';
import { firewallRuleset, routingRules } from '../../src/launcher/network/egress-firewall.ts';
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

  /** Each line's index in the ruleset, asserted present: a missing rule fails, not passes. */
  function indexer(rules: string): (text: string, from?: number) => number {
    const lines = rules.split('\n');
    return (text, from = 0) => {
      const index = lines.findIndex((line, at) => at >= from && line.includes(text));
      assert.ok(index >= 0, `the ruleset has no "${text}":\n${rules}`);
      return index;
    };
  }

  it('drops whatever a job sends the host, and other jobs, before any allow rule', () => {
    const at = indexer(
      firewallRuleset('jobworker_abcde', 'jwabcde', {
        ...policy,
        allow: [{ cidr: '10.0.0.0/8' }, { cidr: '192.0.2.0/24', ports: { from: 80, to: 443 } }],
      }),
    );
    at('iifname "jwabcde*" jump job_to_host');
    assert.ok(at('ip daddr @never drop') < at('ip daddr 10.0.0.0/8 accept'));
    at('th dport 80-443 accept');
    at('oifname "jwabcde*" drop');
  });

  it('opens no connection into a job, whatever the list says', () => {
    const at = indexer(firewallRuleset('jobworker_abcde', 'jwabcde', policy));
    assert.ok(at('oifname "jwabcde*" ct state new drop') < at('iifname "jwabcde*" jump job_out'));
  });

  it("drops what the host's DNAT translated, then lets DNS to a listed resolver through before the never-reachable set", () => {
    const at = indexer(firewallRuleset('jobworker_abcde', 'jwabcde', policy));
    const jobOut = at('chain job_out');
    const dnat = at('ct status dnat drop', jobOut);
    const dns = at('ip daddr @dns meta l4proto { tcp, udp } th dport 53 accept', jobOut);
    assert.ok(dnat < dns && dns < at('ip daddr @never drop', jobOut));
    assert.equal(dnat, jobOut + 1, 'first in the chain');
  });

  it("never reaches link-local addresses nor Azure's WireServer, whatever the list says", () => {
    const rules = firewallRuleset('jobworker_abcde', 'jwabcde', {
      ...policy,
      allow: [{ cidr: '0.0.0.0/0' }],
    });
    assert.match(
      rules,
      /set never \{[^}]*elements = \{ 10\.200\.0\.0\/16, 169\.254\.0\.0\/16, 168\.63\.129\.16 \}/,
    );
  });

  it("marks its jobs' packets, and forwards nothing else only when a jobworker turned forwarding on", () => {
    const rules = firewallRuleset('jobworker_abcde', 'jwabcde', policy);
    const at = indexer(rules);
    at('iifname "jwabcde*" meta mark set meta mark & 0x0000ffff | 0x6a770000');
    at('ip daddr 10.200.0.0/16 meta mark set');
    assert.doesNotMatch(rules, /iifname != "jw\*"/);
    const own = indexer(
      firewallRuleset('jobworker_abcde', 'jwabcde', policy, { forwardJobsOnly: true }),
    );
    assert.ok(own('iifname != "jw*" oifname != "jw*" drop') < own('jump job_out'));
    assert.deepEqual(routingRules('10.200.0.0/16'), [
      [
        'rule',
        'add',
        'pref',
        '99',
        'to',
        '10.200.0.0/16',
        'ipproto',
        'udp',
        'sport',
        '53',
        'lookup',
        'main',
      ],
      [
        'rule',
        'add',
        'pref',
        '99',
        'to',
        '10.200.0.0/16',
        'ipproto',
        'tcp',
        'sport',
        '53',
        'lookup',
        'main',
      ],
      ['rule', 'add', 'pref', '100', 'from', '10.200.0.0/16', 'fwmark', '0/0xffff0000', 'prohibit'],
      ['rule', 'add', 'pref', '100', 'to', '10.200.0.0/16', 'fwmark', '0/0xffff0000', 'prohibit'],
    ]);
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
