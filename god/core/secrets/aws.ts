// The `from:` sources in AWS: SSM Parameter Store (`ssm:/path`, decrypted) and Secrets Manager
// (`secretsmanager:NAME`), through the SDK's standard credential chain and AWS_ENDPOINT_URL(_SSM/_SECRETS_MANAGER).
// An error names the secret and the reference, never a value, and says what to do.
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { UserError } from '../../../kernel/errors.ts';

export interface AwsClients {
  ssm(): SSMClient;
  secretsManager(): SecretsManagerClient;
}

/** One client per service, made when first needed (a config with no AWS source never loads credentials). */
export function awsClients(region?: string): AwsClients {
  let ssm: SSMClient | undefined;
  let sm: SecretsManagerClient | undefined;
  const opts = { ...(region ? { region } : {}), maxAttempts: 3 };
  return {
    ssm: () => (ssm ??= new SSMClient(opts)),
    secretsManager: () => (sm ??= new SecretsManagerClient(opts)),
  };
}

const NOT_FOUND = new Set(['ParameterNotFound', 'ResourceNotFoundException', 'ParameterVersionNotFound']);
const DENIED = new Set([
  'AccessDeniedException',
  'AccessDenied',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'ExpiredTokenException',
  'InvalidSignatureException',
]);

/** The value behind `ref` (ssm:/… or secretsmanager:…) for secret `name`. */
export async function fetchAwsSecret(clients: AwsClients, name: string, ref: string): Promise<string> {
  const [kind, id] = [ref.slice(0, ref.indexOf(':')), ref.slice(ref.indexOf(':') + 1)];
  const what = kind === 'ssm' ? 'SSM parameter' : 'Secrets Manager secret';
  let value: string | undefined;
  try {
    if (kind === 'ssm') {
      const r = await clients.ssm().send(new GetParameterCommand({ Name: id, WithDecryption: true }));
      value = r.Parameter?.Value;
    } else {
      const r = await clients.secretsManager().send(new GetSecretValueCommand({ SecretId: id }));
      value = r.SecretString;
      if (value === undefined && r.SecretBinary) {
        throw new UserError(`secret ${name}: ${what} ${id} holds binary data, not text`, {
          code: 'GOD_SECRET_AWS',
          hint: `Store it as a string (put-secret-value --secret-string), or give ${name} another source.`,
        });
      }
    }
  } catch (err) {
    if (err instanceof UserError) throw err;
    const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const status = e.$metadata?.httpStatusCode;
    // a 403 whose body the SDK could not parse (an XML error from a JSON service: moto, some proxies) is
    // still a refusal; its <Code> names it
    const xmlCode = /<Code>([A-Za-z]+)<\/Code>/.exec(
      String((err as { $response?: { body?: unknown } }).$response?.body ?? ''),
    )?.[1];
    const code = status === 403 && e.name === 'SyntaxError' ? (xmlCode ?? 'HTTP 403') : (e.name ?? 'Error');
    if (NOT_FOUND.has(code)) {
      throw new UserError(`secret ${name}: ${what} ${id} does not exist (${code})`, {
        code: 'GOD_SECRET_NOT_FOUND',
        cause: err,
        hint:
          kind === 'ssm'
            ? `Create it: \`aws ssm put-parameter --name ${id} --type SecureString --value …\` (in the region God uses), or fix secrets.${name}.from.`
            : `Create it: \`aws secretsmanager create-secret --name ${id} --secret-string …\`, or fix secrets.${name}.from.`,
      });
    }
    if (DENIED.has(code) || status === 403) {
      const action =
        kind === 'ssm' ? 'ssm:GetParameter (and kms:Decrypt for its key)' : 'secretsmanager:GetSecretValue';
      throw new UserError(`secret ${name}: access to ${what} ${id} was denied (${code})`, {
        code: 'GOD_SECRET_DENIED',
        cause: err,
        hint: `Give the credentials God runs with (\`aws sts get-caller-identity\` names them) ${action} on ${id}.`,
      });
    }
    throw new UserError(`secret ${name}: cannot read ${what} ${id}: ${code}: ${e.message ?? ''}`.trim(), {
      code: 'GOD_SECRET_AWS',
      cause: err,
      hint: 'Check the AWS credentials and region God runs with (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL), then run again.',
    });
  }
  if (value === undefined) {
    throw new UserError(`secret ${name}: ${what} ${id} has no value`, {
      code: 'GOD_SECRET_NOT_FOUND',
      hint: `Give ${id} a value, or ${name} another source.`,
    });
  }
  return value;
}
