// The ec2 provider's pure rules: architecture from the instance type, the distributions' SSM parameter names,
// which instances go first when a role shrinks, free subnet blocks, spreading over zones.
import type { Instance } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { amiParameter, archOf, OS_AMI_PARAMETERS } from '../../../god/core/providers/ec2/images.ts';
import { spread } from '../../../god/core/providers/ec2/launch.ts';
import { removalOrder } from '../../../god/core/providers/ec2/removal.ts';
import { freeBlock } from '../../../god/core/providers/ec2/subnets.ts';

const inst = (id: string, launched: string, zone = 'z1'): Instance => ({
  InstanceId: id,
  LaunchTime: new Date(launched),
  Placement: { AvailabilityZone: zone },
});

describe('ec2 rules', () => {
  it('Graviton instance types are arm64, the rest x86_64', () => {
    for (const t of [
      't4g.small',
      'c7g.large',
      'm6gd.xlarge',
      'c6gn.medium',
      'x2gd.large',
      'g5g.xlarge',
      'a1.large',
    ])
      expect([t, archOf(t)]).toEqual([t, 'arm64']);
    for (const t of ['t3.small', 'c6i.large', 'm7a.large', 'g4dn.xlarge', 'c5n.large'])
      expect([t, archOf(t)]).toEqual([t, 'x86_64']);
  });

  it("the distributions' public SSM parameters, per architecture", () => {
    expect(amiParameter(OS_AMI_PARAMETERS['debian-12'], 'x86_64')).toBe(
      '/aws/service/debian/release/12/latest/amd64',
    );
    expect(amiParameter(OS_AMI_PARAMETERS['debian-12'], 'arm64')).toBe(
      '/aws/service/debian/release/12/latest/arm64',
    );
    expect(amiParameter(OS_AMI_PARAMETERS['ubuntu-24.04'], 'x86_64')).toBe(
      '/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id',
    );
    expect(amiParameter(OS_AMI_PARAMETERS['ubuntu-24.04'], 'arm64')).toBe(
      '/aws/service/canonical/ubuntu/server/24.04/stable/current/arm64/hvm/ebs-gp3/ami-id',
    );
  });

  it('removal: newest first; endpoints with the fewest clients first (unknown = 0), newest among equals', () => {
    const live = [inst('i-a', '2026-01-01'), inst('i-b', '2026-01-03'), inst('i-c', '2026-01-02')];
    const ids = (l: Instance[]) => l.map((i) => i.InstanceId);
    expect(ids(removalOrder('keeper', live))).toEqual(['i-b', 'i-c', 'i-a']);
    expect(ids(removalOrder('endpoint', live))).toEqual(['i-b', 'i-c', 'i-a']);
    const clients = new Map([
      ['i-a', 3],
      ['i-b', 10],
    ]);
    expect(ids(removalOrder('endpoint', live, clients))).toEqual(['i-c', 'i-a', 'i-b']);
    // client counts only matter for endpoints
    expect(ids(removalOrder('feeder', live, clients))).toEqual(['i-b', 'i-c', 'i-a']);
  });

  it('freeBlock: the first block of the VPC no subnet overlaps', () => {
    expect(freeBlock(['172.31.0.0/16'], ['172.31.0.0/20', '172.31.16.0/20'], 24)).toBe('172.31.32.0/24');
    expect(freeBlock(['10.0.0.0/16'], [], 24)).toBe('10.0.0.0/24');
    expect(freeBlock(['10.0.0.0/24'], ['10.0.0.0/25'], 24)).toBeUndefined();
    expect(freeBlock(['10.0.0.0/24'], ['10.0.0.0/25'], 26)).toBe('10.0.0.128/26');
  });

  it('spread: each new instance goes to the zone with the fewest of the role', () => {
    const ps = [
      { zone: 'z1', subnetId: 's1' },
      { zone: 'z2', subnetId: 's2' },
      { zone: 'z3', subnetId: 's3' },
    ];
    const live = [
      { ...inst('i-a', '2026-01-01'), SubnetId: 's1' },
      { ...inst('i-b', '2026-01-01'), SubnetId: 's1' },
    ];
    expect(spread(ps, live, 4).map((p) => p.zone)).toEqual(['z2', 'z3', 'z2', 'z3']);
    expect(spread(ps, [], 4).map((p) => p.zone)).toEqual(['z1', 'z2', 'z3', 'z1']);
  });
});
