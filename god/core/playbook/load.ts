// Reads a playbook: YAML syntax, variables and schema are checked for the whole file before anything runs;
// every problem comes with its line:column and a hint. Positions use the config loader's YAML helpers.
import fs from 'node:fs';
import path from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { boolFlag } from '../../../kernel/flags.ts';
import { UserError } from '../../../kernel/errors.ts';
import {
  type ConfigProblem,
  checkYamlSize,
  describeIssue,
  keyPos,
  locate,
  problemsMessage,
  yamlSyntaxProblems,
  yamlToJS,
} from '../config/load.ts';
import { kindModule, STEP_KIND_MODULES } from './kinds/index.ts';
import { type Playbook, PlaybookSchema, STEP_KINDS, type Step, type StepKind } from './schema.ts';

export type PlaybookProblem = ConfigProblem;

export class PlaybookError extends UserError {
  constructor(
    readonly file: string,
    readonly problems: PlaybookProblem[],
  ) {
    super(problemsMessage(`playbook ${file}`, file, problems), {
      code: 'GOD_PLAYBOOK',
      hint: `Fix ${file} as the hints say (nothing was run); playbooks/README.md describes every step kind.`,
    });
  }
}

const KINDS = STEP_KINDS.join(', ');
/** `^steps.N.<key>` with nothing or a deeper key after it */
const under = (key: string) => new RegExp(`^steps\\.\\d+\\.${key}(\\.|$)`);
// Hints by dotted path; the first match wins. Each kind's come from its module (kinds/).
const HINTS: Array<[RegExp, string]> = [
  [/^$/, 'A playbook takes name, description, vars and steps.'],
  [/^name$/, 'Give the playbook a name, e.g. name: launch.'],
  [/^description$/, 'A sentence saying what the playbook does.'],
  [
    /^vars/,
    'vars maps names to default values (text, numbers, true/false); override them with --var NAME=VALUE or GOD_VAR_NAME.',
  ],
  [/^steps$/, `steps is a list; each item names one kind: ${KINDS}.`],
  [/^steps\.\d+\.timeout$/, 'A duration like 30s, 2m or 500ms.'],
  [/^steps\.\d+\.continue_on_error$/, 'true or false: whether the play goes on when this step fails.'],
  [/^steps\.\d+\.name$/, 'A short text naming the step in the output.'],
  [/^steps\.\d+\.providers/, 'A list of providers the step runs with: local, ssh, ec2 (others skip it).'],
  ...STEP_KIND_MODULES.flatMap(
    (m): Array<[RegExp, string]> => [
      ...Object.entries((m as { argHints?: Record<string, string> }).argHints ?? {}).map(
        ([arg, hint]): [RegExp, string] => [under(`${m.kind}\\.${arg}`), hint],
      ),
      [under(m.kind), m.hint],
    ],
  ),
  [
    /^steps\.\d+/,
    `Each step names one kind (${KINDS}) plus optional name, continue_on_error, timeout and providers.`,
  ],
];

export function playbookHint(p: string): string {
  for (const [re, h] of HINTS) if (re.test(p)) return h;
  return 'playbooks/README.md describes the format.';
}

const dotted = (p: PropertyKey[]) => p.map(String).join('.');
export const VAR_RE = /\$\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;
const WHOLE_VAR_RE = /^\$\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$/;

type VarValue = string | number | boolean;

/** An override (always text) in the type of the variable's default. */
function coerce(text: string, def: VarValue): { value: VarValue } | { error: string } {
  if (typeof def === 'number') {
    const n = Number(text.trim());
    return text.trim() !== '' && Number.isFinite(n)
      ? { value: n }
      : { error: `must be a number (got "${text}")` };
  }
  if (typeof def === 'boolean') {
    const b = boolFlag.safeParse(text);
    return b.success ? { value: b.data } : { error: `must be true or false (got "${text}")` };
  }
  return { value: text };
}

/** `k=v` pairs from --var flags or GOD_PLAY_VARS (commas or newlines between pairs). */
export function parseVarPairs(
  items: string[] | string | undefined,
  from: string,
): { values: Record<string, string>; problems: PlaybookProblem[] } {
  const list = Array.isArray(items) ? items : items ? items.split(/[,\n]/) : [];
  const values: Record<string, string> = {};
  const problems: PlaybookProblem[] = [];
  for (const raw of list) {
    const item = raw.trim();
    if (!item) continue;
    const i = item.indexOf('=');
    const k = i > 0 ? item.slice(0, i).trim() : '';
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) {
      problems.push({
        path: '',
        message: `${from} "${item}" is not NAME=VALUE`,
        hint: 'Write variables as --var NAME=VALUE (e.g. --var endpoints=3).',
      });
      continue;
    }
    values[k] = item.slice(i + 1);
  }
  return { values, problems };
}

export interface VarSources {
  /** --var NAME=VALUE (highest precedence) */
  flags?: string[];
  /** the environment: GOD_VAR_<NAME> (upper case), then GOD_PLAY_VARS */
  env?: NodeJS.ProcessEnv;
}

function resolveVars(
  declared: Record<string, VarValue>,
  src: VarSources,
  problems: PlaybookProblem[],
  posOfVar: (k: string) => { line?: number; column?: number },
): Record<string, VarValue> {
  const env = src.env ?? {};
  const fromList = parseVarPairs(env.GOD_PLAY_VARS, 'GOD_PLAY_VARS item');
  const fromFlags = parseVarPairs(src.flags, '--var');
  problems.push(...fromList.problems, ...fromFlags.problems);
  const known = Object.keys(declared);
  for (const [from, values] of [
    ['GOD_PLAY_VARS', fromList.values],
    ['--var', fromFlags.values],
  ] as const) {
    for (const k of Object.keys(values)) {
      if (!(k in declared)) {
        problems.push({
          path: '',
          message: `${from} sets ${k}, which the playbook does not declare`,
          hint: `Declared variables: ${known.join(', ') || 'none'}. Add ${k} under vars: to use it.`,
        });
      }
    }
  }
  const out: Record<string, VarValue> = {};
  for (const [k, def] of Object.entries(declared)) {
    const envName = `GOD_VAR_${k.toUpperCase()}`;
    let text: string | undefined;
    let from = '';
    if (fromFlags.values[k] !== undefined) [text, from] = [fromFlags.values[k], `--var ${k}`];
    else if (env[envName] !== undefined) [text, from] = [env[envName], envName];
    else if (fromList.values[k] !== undefined) [text, from] = [fromList.values[k], `GOD_PLAY_VARS ${k}`];
    if (text === undefined) {
      out[k] = def;
      continue;
    }
    const c = coerce(text, def);
    if ('error' in c) {
      problems.push({
        path: `vars.${k}`,
        ...posOfVar(k),
        message: `${from} ${c.error}, like its default ${JSON.stringify(def)}`,
        hint: `Pass a value of the same type as the default on this line.`,
      });
      out[k] = def;
    } else out[k] = c.value;
  }
  return out;
}

/** Replace ${{ name }} in every string (a string that is only ${{ name }} takes the variable's type). */
function substitute(
  v: unknown,
  vars: Record<string, VarValue>,
  at: PropertyKey[],
  missing: Array<{ path: PropertyKey[]; name: string }>,
): unknown {
  if (typeof v === 'string') {
    const whole = WHOLE_VAR_RE.exec(v);
    if (whole) {
      if (whole[1]! in vars) return vars[whole[1]!];
      missing.push({ path: at, name: whole[1]! });
      return v;
    }
    return v.replace(VAR_RE, (m, n: string) => {
      if (n in vars) return String(vars[n]);
      missing.push({ path: at, name: n });
      return m;
    });
  }
  if (Array.isArray(v)) return v.map((x, i) => substitute(x, vars, [...at, i], missing));
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [k, substitute(x, vars, [...at, k], missing)]),
    );
  }
  return v;
}

/** Parse, substitute variables and validate playbook text. `file` names it in errors. */
export function parsePlaybookText(text: string, file: string, src: VarSources = {}, abs = file): Playbook {
  checkYamlSize(Buffer.byteLength(text), file, 'playbook', 'GOD_USAGE');
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true });
  const problems: PlaybookProblem[] = yamlSyntaxProblems(
    doc,
    'Check indentation (spaces, not tabs), that every key is followed by ": ", and quote values starting with { or [.',
  );
  if (problems.length) throw new PlaybookError(file, problems);
  const raw = yamlToJS(doc, file, 'playbook', 'GOD_USAGE') ?? {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new PlaybookError(file, [
      {
        path: '',
        line: 1,
        column: 1,
        message: 'must be a mapping (name, vars, steps)',
        hint: playbookHint(''),
      },
    ]);
  }
  const pos = (p: PropertyKey[]) => {
    const x = locate(doc, lc, p);
    return { line: x?.line, column: x?.column };
  };
  // variables first: their defaults are checked by the schema below, overrides here
  const declaredRaw = (raw as Record<string, unknown>).vars;
  const declared: Record<string, VarValue> = {};
  if (declaredRaw && typeof declaredRaw === 'object' && !Array.isArray(declaredRaw)) {
    for (const [k, v] of Object.entries(declaredRaw)) {
      if (['string', 'number', 'boolean'].includes(typeof v)) declared[k] = v as VarValue;
    }
  }
  const vars = resolveVars(declared, src, problems, (k) => pos(['vars', k]));
  const missing: Array<{ path: PropertyKey[]; name: string }> = [];
  const { vars: _declared, ...rest } = raw as Record<string, unknown>;
  const body = { ...(substitute(rest, vars, [], missing) as object), vars: declaredRaw };
  for (const m of missing) {
    problems.push({
      path: dotted(m.path),
      ...pos(m.path),
      message: `uses \${{ ${m.name} }}, which is not a declared variable`,
      hint: `Declare it under vars: (with a default), or fix the name. Declared: ${Object.keys(declared).join(', ') || 'none'}.`,
    });
  }
  const r = PlaybookSchema.safeParse(body);
  if (!r.success) {
    const reported = new Set(missing.map((m) => dotted(m.path)));
    // a step with an unknown key is told so once, not also that it names no kind
    const unknownIn = new Set(
      r.error.issues.filter((i) => i.code === 'unrecognized_keys').map((i) => dotted(i.path)),
    );
    for (const issue of r.error.issues) {
      const at = dotted(issue.path);
      if (reported.has(at)) continue;
      if (issue.code === 'custom' && unknownIn.has(at) && issue.message.startsWith('names no step kind'))
        continue;
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) {
          const p = keyPos(doc, lc, issue.path, key);
          const isStep = /^steps\.\d+$/.test(dotted(issue.path));
          problems.push({
            path: dotted([...issue.path, key]),
            line: p?.line,
            column: p?.column,
            message: isStep ? `"${key}" is not a step kind or step setting` : 'is not a known setting',
            hint: playbookHint(dotted(issue.path)),
          });
        }
        continue;
      }
      problems.push({
        path: dotted(issue.path),
        ...pos(issue.path),
        message: describeIssue(issue, body),
        hint: playbookHint(dotted(issue.path)),
      });
    }
  }
  if (problems.length) {
    problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    throw new PlaybookError(file, problems);
  }
  const pb = r.data!;
  const steps: Step[] = pb.steps.map((s, i) => {
    const kind = STEP_KINDS.find((k) => s[k] !== undefined) as StepKind;
    return {
      index: i + 1,
      kind,
      args: s[kind],
      name: s.name ?? kindModule(kind).defaultName(s[kind]),
      line: pos(['steps', i]).line,
      continue_on_error: s.continue_on_error,
      timeout: s.timeout,
      providers: s.providers,
    } as Step;
  });
  return { name: pb.name, description: pb.description, file: abs, vars, steps };
}

/** Load and validate a playbook file (relative paths against `cwd`). */
export function loadPlaybook(file: string, src: VarSources = {}, cwd = process.cwd()): Playbook {
  const abs = path.resolve(cwd, file);
  let text: string;
  try {
    // before reading: a huge file would be read whole into memory first
    checkYamlSize(fs.statSync(abs).size, file, 'playbook', 'GOD_USAGE');
    text = fs.readFileSync(abs, 'utf8');
  } catch (err) {
    if (err instanceof UserError) throw err;
    const e = err as NodeJS.ErrnoException;
    throw new UserError(
      e.code === 'ENOENT' ? `playbook ${file} does not exist` : `cannot read playbook ${file}: ${e.message}`,
      {
        code: 'GOD_USAGE',
        hint: 'Check the path; the shipped playbooks are in playbooks/ (launch.yaml, rolling-deploy.yaml, ...).',
      },
    );
  }
  const shown = path.relative(cwd, abs);
  return parsePlaybookText(text, shown && !shown.startsWith('..') ? shown : abs, src, abs);
}
