// Which image an instance boots and which CPU it has: the distributions God supports (each one's public SSM
// parameter, per architecture) and an instance type's architecture. No AWS SDK here: the config schema reads it.

/** EC2's name of a CPU architecture, and the name the distributions' SSM parameters use for it. */
export const ARCHES = { x86_64: 'amd64', arm64: 'arm64' } as const;
export type Arch = keyof typeof ARCHES;

/** ec2.os → the public SSM parameter holding the latest AMI id; `{arch}` is amd64 or arm64. */
export const OS_AMI_PARAMETERS = {
  'debian-12': '/aws/service/debian/release/12/latest/{arch}',
  'ubuntu-24.04': '/aws/service/canonical/ubuntu/server/24.04/stable/current/{arch}/hvm/ebs-gp3/ami-id',
} as const;
export type Os = keyof typeof OS_AMI_PARAMETERS;
export const OS_NAMES = Object.keys(OS_AMI_PARAMETERS) as [Os, ...Os[]];

/** The SSM parameter for `arch`: the template (ec2.ami_parameter or the os's own) with {arch} filled in. */
export function amiParameter(template: string, arch: Arch): string {
  return template.replaceAll('{arch}', ARCHES[arch]);
}

/**
 * Graviton (arm64) families carry a `g` right after the generation digit (t4g, c7g, m6gd, c6gn, x2gd, g5g,
 * im4gn) or are a1; every other family is x86_64 (g4dn is a GPU family, not Graviton).
 */
export function archOf(instanceType: string): Arch {
  const family = instanceType.split('.')[0] ?? '';
  return family === 'a1' || /^[a-z]+\d+g/.test(family) ? 'arm64' : 'x86_64';
}
