import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { readYaml, repoPath } from '../src/files.ts';

const service = z.object({
  image: z.string().optional(),
  profiles: z.array(z.string()).optional(),
  ports: z.array(z.string()).optional(),
  volumes: z.array(z.string()).optional(),
  environment: z.record(z.string(), z.string()).optional(),
});
const composeFile = z.object({
  services: z.record(z.string(), service),
  volumes: z.record(z.string(), z.unknown()),
});
const scrapeConfig = z.object({
  scrape_configs: z.array(
    z.object({
      job_name: z.string(),
      static_configs: z.array(z.object({ targets: z.array(z.string()) })).optional(),
      dns_sd_configs: z.array(z.object({ names: z.array(z.string()), port: z.number() })).optional(),
    }),
  ),
  rule_files: z.array(z.string()),
});

const OBSERVABILITY = ['prometheus', 'grafana', 'jaeger'];

describe('docker-compose.yml, profile observability', () => {
  const compose = composeFile.parse(readYaml('docker-compose.yml'));

  it('adds Prometheus, Grafana and Jaeger, only under the profile, on pinned images', () => {
    for (const name of OBSERVABILITY) {
      const s = compose.services[name];
      expect(s?.profiles, name).toEqual(['observability']);
      expect(s?.image, name).toMatch(/^[a-z/-]+:v?\d+\.\d+\.\d+$/);
    }
    for (const app of ['postgres', 'redis', 'migrate', 'api', 'worker', 'dashboard', 'saas-sim']) {
      expect(compose.services[app]?.profiles, app).toBeUndefined();
    }
  });

  it('publishes each host port once (Grafana is not on the 3000 of the api)', () => {
    const hostPorts = Object.values(compose.services).flatMap((s) =>
      (s.ports ?? []).map((p) => p.split(':')[0]),
    );
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
    expect(compose.services.grafana?.ports).toEqual(['3003:3000']);
  });

  it('mounts only files that exist, into named volumes that are declared', () => {
    for (const name of OBSERVABILITY) {
      for (const volume of compose.services[name]?.volumes ?? []) {
        const [source = ''] = volume.split(':');
        if (source.startsWith('./')) expect(existsSync(repoPath(source.slice(2))), volume).toBe(true);
        else expect(Object.keys(compose.volumes), volume).toContain(source);
      }
    }
  });

  it('has Prometheus scrape the api, every worker and the dashboard on the ports they listen on', () => {
    const config = scrapeConfig.parse(readYaml('deploy/prometheus/prometheus.yml'));
    expect(config.rule_files).toEqual(['alerts.yml']);
    const targets = Object.fromEntries(
      config.scrape_configs.map((job) => [
        job.job_name,
        [
          ...(job.static_configs ?? []).flatMap((c) => c.targets),
          ...(job.dns_sd_configs ?? []).flatMap((c) => c.names.map((n) => `${n}:${c.port}`)),
        ],
      ]),
    );
    // The apps' default ports (API_PORT, WORKER_PORT, DASHBOARD_PORT): compose sets none of them.
    expect(targets).toEqual({
      'ctp-api': ['api:3000'],
      'ctp-worker': ['worker:3002'],
      'ctp-dashboard': ['dashboard:3001'],
    });
    for (const app of ['api', 'worker', 'dashboard']) {
      expect(compose.services[app]).toBeDefined();
    }
    expect(compose.services.prometheus?.volumes).toContain('./deploy/prometheus:/etc/prometheus:ro');
  });

  it('opens Jaeger to OTLP over HTTP on 4318 and its UI on 16686', () => {
    expect(compose.services.jaeger?.ports).toEqual(expect.arrayContaining(['4318:4318', '16686:16686']));
    expect(compose.services.jaeger?.environment?.COLLECTOR_OTLP_ENABLED).toBe('true');
  });
});
