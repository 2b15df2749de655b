// `god endpoints [--json]` (the registry, and the endpoints that beat unlisted, not yet admitted) and `god endpoints shed ID N`.
import { type EndpointsReport, listEndpoints, shedEndpoint } from '../../core/endpoints.ts';
import { type CliContext, intArg } from '../context.ts';
import { defineCommand } from '../spec.ts';
import { table } from '../output.ts';

function render(ctx: CliContext, r: EndpointsReport): string[] {
  const s = ctx.out.style.bind(ctx.out);
  const unlisted = r.unlisted ?? [];
  if (r.endpoints.length === 0 && unlisted.length === 0) return [s('no endpoints registered', 'gray')];
  return [
    ...table(
      [
        ...r.endpoints.map((e) => [
          e.id,
          `${e.host}:${e.port}`,
          e.tls ? 'tls' : 'tcp',
          `${e.clients}/${e.capacity}`,
          String(e.soft_limit),
          e.draining ? s('draining', 'yellow') : e.healthy ? s('healthy', 'green') : s('unhealthy', 'red'),
          `${e.age_s}s`,
        ]),
        // beating but not in the registry: clients cannot find them until God admits their release
        ...unlisted.map((e) => [
          e.id,
          e.host,
          '-',
          String(e.clients),
          '-',
          s(
            `unlisted (${e.admitted ? `admitted at ${e.admitted}, runs ${e.version}` : `not admitted at ${e.version}`})`,
            'yellow',
          ),
          '-',
        ]),
      ],
      ['ID', 'ADDRESS', 'PROTO', 'CLIENTS', 'SOFT', 'STATE', 'AGE'].map((h) => s(h, 'bold')),
    ),
    '',
    `${r.endpoints.length} endpoint(s), ${r.total_clients} client(s) of ${r.total_capacity}${unlisted.length ? `; ${unlisted.length} unlisted` : ''}${r.gone.length ? `; gone: ${r.gone.join(', ')}` : ''}`,
  ];
}

export const endpointsCommand = defineCommand({
  async run(ctx) {
    const r = await listEndpoints(await ctx.redis(), Date.now(), { unlisted: true });
    ctx.out.result('endpoints', r, (d) => render(ctx, d));
    return 0;
  },
});

export const endpointsShedCommand = defineCommand({
  async run(ctx, [id, n]) {
    const r = await shedEndpoint(await ctx.redis(), id!, intArg(n, 'clients', 1), ctx.events);
    ctx.out.result('endpoints shed', r, (d) => [`${d.endpoint}: asked to shed ${d.clients} client(s)`]);
    return 0;
  },
});
