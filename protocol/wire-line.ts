// Serialize a server message once, as the exact bytes sent on the wire.
import type { ServerAction, ServerParamsOf } from './messages.ts';

export function encodeServerLine<A extends ServerAction>(action: A, params: ServerParamsOf[A]): Buffer {
  return Buffer.from(`${JSON.stringify({ action, params })}\n`, 'utf8');
}
