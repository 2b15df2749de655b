// The fleet's key pair: reused when the region has it, else imported from ec2.public_key.
import fs from 'node:fs';
import { DescribeKeyPairsCommand, ImportKeyPairCommand } from '@aws-sdk/client-ec2';
import { UserError } from '../../../../kernel/errors.ts';
import { expandPath } from '../../deploy/remote-fleet.ts';
import type { PlannedChange } from '../types.ts';
import { awsError, changed, type Ec2Ctx, fleetTags, isAwsError, type Mode } from './context.ts';

export async function ensureKeyPair(ctx: Ec2Ctx, mode: Mode): Promise<PlannedChange[]> {
  const name = ctx.ec2c.key_pair;
  try {
    const r = await ctx.ec2.send(new DescribeKeyPairsCommand({ KeyNames: [name] }));
    if (r.KeyPairs?.length) return [];
  } catch (err) {
    if (!isAwsError(err, 'InvalidKeyPair.NotFound')) throw awsError(err, `look up key pair ${name}`);
  }
  if (!ctx.ec2c.public_key) {
    throw new UserError(`key pair ${name} does not exist in ${ctx.ec2c.region}`, {
      code: 'GOD_CONFIG',
      hint: 'Set ec2.public_key to the public half of ssh.key (e.g. ~/.ssh/filmgrain.pub): God imports it under that name.',
    });
  }
  const file = expandPath(ctx.ec2c.public_key, ctx.baseDir);
  let material: string;
  try {
    material = fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new UserError(`cannot read ec2.public_key ${file}: ${(err as Error).message}`, {
      code: 'GOD_CONFIG',
      hint: 'Point ec2.public_key at an OpenSSH public key file (ssh-keygen -t ed25519 -f ~/.ssh/filmgrain).',
    });
  }
  if (!/^(ssh-(rsa|ed25519)|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+/.test(material)) {
    throw new UserError(`ec2.public_key ${file} is not an OpenSSH public key`, {
      code: 'GOD_CONFIG',
      hint: 'Give the .pub file (one line "ssh-ed25519 AAAA… comment"), never the private key.',
    });
  }
  const change: PlannedChange = {
    action: 'create',
    resource: 'key_pair',
    subject: name,
    detail: `imported from ${ctx.ec2c.public_key}`,
  };
  if (mode === 'plan') return [change];
  try {
    await ctx.ec2.send(
      new ImportKeyPairCommand({
        KeyName: name,
        PublicKeyMaterial: Buffer.from(material),
        TagSpecifications: [{ ResourceType: 'key-pair', Tags: fleetTags(ctx.ec2c) }],
      }),
    );
  } catch (err) {
    throw awsError(err, `import key pair ${name} from ${file}`);
  }
  return [changed(ctx, change)];
}
