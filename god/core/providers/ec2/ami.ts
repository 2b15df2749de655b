// The image a role boots: ec2.ami, or the latest of ec2.os for the instance type's architecture, read from the
// distribution's public SSM parameter (or ec2.ami_parameter). Its root device name is where the encrypted
// volume goes.
import { DescribeImagesCommand } from '@aws-sdk/client-ec2';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { UserError } from '../../../../kernel/errors.ts';
import { awsError, type Ec2Ctx, isAwsError } from './context.ts';
import { type Arch, amiParameter, OS_AMI_PARAMETERS } from './images.ts';

export interface Image {
  id: string;
  arch: Arch;
  rootDevice: string;
  /** where it came from, for plans: "ec2.ami" or the SSM parameter */
  source: string;
}

export async function resolveImage(ctx: Ec2Ctx, arch: Arch): Promise<Image> {
  let id = ctx.ec2c.ami;
  let source = 'ec2.ami';
  if (!id) {
    const name = amiParameter(ctx.ec2c.ami_parameter ?? OS_AMI_PARAMETERS[ctx.ec2c.os], arch);
    source = name;
    try {
      id = (await ctx.ssm.send(new GetParameterCommand({ Name: name }))).Parameter?.Value;
    } catch (err) {
      if (!isAwsError(err, 'ParameterNotFound')) throw awsError(err, `read SSM parameter ${name}`, 'SSM');
    }
    if (!id) {
      throw new UserError(
        `SSM parameter ${name} (the ${ctx.ec2c.os} ${arch} AMI) is not in ${ctx.ec2c.region}`,
        {
          code: 'GOD_EC2',
          hint: 'Set ec2.ami to an AMI id of that region, or ec2.ami_parameter to a parameter that holds one.',
        },
      );
    }
  }
  let img: { Architecture?: string; RootDeviceName?: string } | undefined;
  try {
    img = (await ctx.ec2.send(new DescribeImagesCommand({ ImageIds: [id] }))).Images?.[0];
  } catch (err) {
    if (!isAwsError(err, 'InvalidAMIID.NotFound', 'InvalidAMIID.Malformed'))
      throw awsError(err, `look up AMI ${id}`);
  }
  if (!img) {
    throw new UserError(`AMI ${id} (from ${source}) does not exist in ${ctx.ec2c.region}`, {
      code: 'GOD_EC2',
      hint: 'Give an AMI id of this region in ec2.ami, or leave it out to take the latest of ec2.os.',
    });
  }
  if (ctx.ec2c.ami && img.Architecture && img.Architecture !== arch) {
    throw new UserError(`AMI ${id} is ${img.Architecture} but the instance type needs ${arch}`, {
      code: 'GOD_CONFIG',
      hint: 'Leave ec2.ami out (God picks the image per architecture), or use instance types of one architecture.',
    });
  }
  return { id, arch, rootDevice: img.RootDeviceName ?? '/dev/xvda', source };
}
