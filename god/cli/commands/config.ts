// `god config [--json]`: validate the config and print it with every default filled in.
import { stringify } from 'yaml';
import { redactUrl } from '../../../kernel/redact.ts';
import { defineCommand } from '../spec.ts';

export const configCommand = defineCommand({
  async run(ctx) {
    const { config, file } = ctx.loaded;
    const shown = {
      ...config,
      redis: { ...config.redis, ...(config.redis.url ? { url: redactUrl(config.redis.url) } : {}) },
    };
    ctx.out.result('config', { file: file ?? null, config: shown }, (d) => [
      `# ${d.file ?? 'no config file: built-in defaults (local provider)'} — valid`,
      stringify(d.config).trimEnd(),
    ]);
    return 0;
  },
});
