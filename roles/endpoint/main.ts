// `endpoint` binary.
import { runRole } from '../runtime/role.ts';
import { endpointRole } from './role.ts';

await runRole(endpointRole);
