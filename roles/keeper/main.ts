// keeper binary: archives the fleet's logs, sends alerts, publishes endpoints.json (see keeper.ts).
import { runRole } from '../runtime/role.ts';
import { keeperRole } from './keeper.ts';

await runRole(keeperRole);
