// The Ansible side of bench:deploy: an inventory and a playbook doing what `god deploy` does (copy the
// release files, switch `current`, restart the role through the same host agent), run with ansible-playbook.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { DeployHost } from '../../god/core/deploy/types.ts';

export interface AnsibleSetup {
  dir: string;
  inventory: string;
  playbook: string;
  cfg: string;
}

export function writeAnsible(
  dir: string,
  hosts: DeployHost[],
  o: { privateKeyPath: string; knownHostsPath: string; forks: number; files: string[] },
): AnsibleSetup {
  fs.mkdirSync(dir, { recursive: true });
  const cp = fs.mkdtempSync('/tmp/fgcp-'); // ControlPath must stay short (unix socket length)
  const cfg = path.join(dir, 'ansible.cfg');
  fs.writeFileSync(
    cfg,
    [
      '[defaults]',
      `forks = ${o.forks}`,
      'host_key_checking = True',
      'interpreter_python = /usr/bin/python3',
      'gathering = explicit',
      'retry_files_enabled = False',
      'stdout_callback = default',
      '[ssh_connection]',
      // Ansible at its fastest: pipelining and persistent multiplexed connections
      'pipelining = True',
      `ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=${o.knownHostsPath} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes`,
      `control_path_dir = ${cp}`,
      '',
    ].join('\n'),
  );
  const inventory = path.join(dir, 'inventory.ini');
  fs.writeFileSync(
    inventory,
    [
      '[fleet]',
      ...hosts.map(
        (h) =>
          `${h.name} ansible_host=${h.address} ansible_port=${h.port} ansible_user=${h.user} ansible_ssh_private_key_file=${o.privateKeyPath} base_dir=${h.baseDir} proc_ids='${JSON.stringify(h.processes.map((p) => p.id))}'`,
      ),
      '',
    ].join('\n'),
  );
  const playbook = path.join(dir, 'deploy.yml');
  fs.writeFileSync(
    playbook,
    `- hosts: fleet
  gather_facts: false
  tasks:
    - name: release directory
      ansible.builtin.file:
        path: "{{ base_dir }}/releases/{{ version }}"
        state: directory
    - name: release files
      ansible.builtin.copy:
        src: "{{ src }}/{{ item }}"
        dest: "{{ base_dir }}/releases/{{ version }}/{{ item }}"
        mode: "0755"
      loop: ${JSON.stringify(o.files)}
    - name: switch current
      ansible.builtin.file:
        src: "releases/{{ version }}"
        dest: "{{ base_dir }}/current"
        state: link
        force: true
    - name: restart the role (same host agent as god deploy)
      ansible.builtin.shell: >-
        printf '%s' '{"cmd":"restart","base":"{{ base_dir }}","ids":{{ proc_ids | to_json }}}' | node {{ base_dir }}/current/fg-agent.mjs
`,
  );
  return { dir, inventory, playbook, cfg };
}

export function runAnsible(
  a: AnsibleSetup,
  vars: Record<string, string>,
): Promise<{ ms: number; ok: boolean; tail: string }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const c = spawn(
      'ansible-playbook',
      ['-i', a.inventory, a.playbook, ...Object.entries(vars).flatMap(([k, v]) => ['-e', `${k}=${v}`])],
      {
        cwd: a.dir,
        env: { ...process.env, ANSIBLE_CONFIG: a.cfg, ANSIBLE_NOCOLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    c.on('close', (code) => {
      resolve({
        ms: performance.now() - t0,
        ok: code === 0 && /failed=0/.test(out),
        tail: out.trim().split('\n').slice(-15).join('\n'),
      });
    });
  });
}
