// The feeder binary: `feeder [options]` runs the role; `feeder match --catalog FILE` matches stdin.
import { runMatch } from './match-cli.ts';

const argv = process.argv.slice(2);
if (argv[0] === 'match') {
  // nothing but match results on stdout: no Redis, no logger
  process.exitCode = await runMatch(argv.slice(1));
} else {
  const [{ runRole }, { feederRole }] = await Promise.all([
    import('../runtime/role.ts'),
    import('./role.ts'),
  ]);
  await runRole(feederRole(), argv);
}
