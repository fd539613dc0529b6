// The deployment files, checked without Docker or a cluster: the Dockerfile copies files
// that exist and starts what `npm run build` produces; compose and the Kubernetes manifests
// parse and only set configuration keys that exist.
import t from 'tap';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { parseAllDocuments, parse } from 'yaml';
import { KEYS } from '../../src/config/keys.js';

const root = new URL('../../', import.meta.url).pathname;
const read = (p: string): string => readFileSync(root + p, 'utf8');
const known = new Set(KEYS.map((k) => k.name));

t.test('Dockerfile: COPY sources exist, the entrypoint is built by npm run build, non-root, HEALTHCHECK', async (t) => {
  const df = read('deploy/Dockerfile');
  // The base is a build argument (CI passes a local stand-in): its default is what is published.
  const args = new Map([...df.matchAll(/^ARG (\w+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
  const named = [...df.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]!);
  t.ok(named.length >= 2, 'multi-stage');
  for (const n of named) t.equal(n, '${NODE_IMAGE}', 'every stage starts from the NODE_IMAGE argument');
  const from = named.map((n) => n.replace(/^\$\{(\w+)\}$/, (_, a: string) => args.get(a) ?? ''));
  for (const image of from) t.match(image, /^node:(2[2-9]|[3-9]\d)[.-]/, `official Node LTS 22+ image: ${image}`);
  for (const m of df.matchAll(/^COPY (?!--from)(.+)$/gm)) {
    const parts = m[1]!.trim().split(/\s+/);
    for (const src of parts.slice(0, -1)) t.ok(existsSync(root + src), `COPY source exists: ${src}`);
  }
  const entry = /^ENTRYPOINT \["node", "([^"]+)"\]/m.exec(df)?.[1];
  t.equal(entry, 'dist/src/cli.js');
  const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string>; bin: Record<string, string> };
  t.match(pkg.scripts.build, /tsc -p tsconfig\.build\.json/);
  const build = JSON.parse(read('tsconfig.build.json')) as { include: string[] };
  const base = JSON.parse(read('tsconfig.json')) as { compilerOptions: { outDir: string; rootDir: string } };
  t.equal(`${base.compilerOptions.outDir}/src/cli.js`, entry, 'outDir + rootDir map src/cli.ts to the entrypoint');
  t.ok(build.include.includes('src') && existsSync(root + 'src/cli.ts'), 'src/cli.ts is compiled by the build');
  t.equal(pkg.bin['oauth2-mail-proxy'], entry, 'the same file as the npm bin');
  t.match(df, /--from=build \/app\/dist\/src/, 'only the compiled sources reach the runtime stage');
  t.match(df, /npm ci --omit=dev/, 'production dependencies only');
  t.match(df, /^USER node$/m, 'non-root');
  // The healthcheck command asks /healthz where LISTEN_HTTP puts it (test/ops/healthcheck-command.test.ts).
  t.match(df, /^HEALTHCHECK .*\\\n\s*CMD \["node", "dist\/src\/cli\.js", "healthcheck"\]$/m);
  for (const port of ['143', '993', '587', '465']) t.match(df, new RegExp(`EXPOSE[^\\n]* ${port}\\b`), `exposes ${port}`);
});

t.test('compose.yaml parses, the proxy sets only known keys, the DMS override files exist', async (t) => {
  const doc = parse(read('deploy/compose.yaml')) as { services: Record<string, { environment?: Record<string, string>; ports?: string[]; volumes?: string[]; env_file?: string }> };
  const proxy = doc.services['oauth2-mail-proxy']!;
  for (const key of Object.keys(proxy.environment ?? {})) t.ok(known.has(key), `known key ${key}`);
  for (const port of ['143', '993', '587', '465']) t.ok(proxy.ports?.some((p) => p.startsWith(`${port}:`)), `proxy publishes ${port}`);
  const dms = doc.services.mailserver!;
  for (const port of ['143', '993', '587', '465']) t.notOk(dms.ports?.some((p) => p.startsWith(`${port}:`)), `DMS no longer publishes ${port}`);
  for (const v of dms.volumes ?? []) {
    const src = v.split(':')[0]!;
    if (src.startsWith('./dms-config/')) t.ok(existsSync(`${root}deploy/${src.slice(2)}`), `override file shipped: ${src}`);
  }
  t.ok(existsSync(`${root}deploy/${dms.env_file}`), 'env_file exists');
  // Trust for the proxy's address only: a host allowed XCLIENT sends mail as anyone, a
  // trusted Dovecot client claims any client address. Exactly the address compose pins.
  const proxyIp = (proxy as { networks?: Record<string, { ipv4_address?: string }> }).networks?.mail?.ipv4_address;
  t.match(proxyIp, /^\d+\.\d+\.\d+\.\d+$/, 'the proxy has a fixed address');
  for (const file of ['dovecot.cf', 'dovecot-2.4.cf']) {
    t.match(read(`deploy/dms-config/${file}`), new RegExp(`^login_trusted_networks = ${proxyIp}$`, 'm'), `${file}: the proxy's address only`);
  }
  for (const service of ['submission', 'submissions']) {
    const lines = read('deploy/dms-config/postfix-master.cf').split('\n').filter((l) => l.startsWith(`${service}/inet/smtpd_authorized_`));
    t.same(lines, [`${service}/inet/smtpd_authorized_xclient_hosts=${proxyIp}`], `${service}: XCLIENT for the proxy only, no XFORWARD`);
  }
});

t.test('Kubernetes manifests parse and reference keys and objects that exist', async (t) => {
  const dir = `${root}deploy/kubernetes/`;
  const objects: Array<{ kind: string; metadata: { name: string }; [k: string]: unknown }> = [];
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
    for (const d of parseAllDocuments(readFileSync(dir + f, 'utf8'))) {
      t.same(d.errors, [], `${f} parses`);
      const o = d.toJS() as (typeof objects)[0] | null;
      if (o?.kind) objects.push(o);
    }
  }
  const find = (kind: string, name?: string) => objects.find((o) => o.kind === kind && (!name || o.metadata.name === name));
  for (const kind of ['Deployment', 'Service', 'ConfigMap', 'Secret', 'PodDisruptionBudget', 'HorizontalPodAutoscaler']) t.ok(find(kind), `has a ${kind}`);
  const cm = find('ConfigMap') as unknown as { data: Record<string, string>; metadata: { name: string } };
  for (const key of Object.keys(cm.data)) t.ok(known.has(key), `ConfigMap key ${key} is a config key`);
  const dep = find('Deployment') as unknown as { spec: { replicas: number; template: { spec: Record<string, any> } } };
  t.ok(dep.spec.replicas >= 2, '2+ replicas');
  const pod = dep.spec.template.spec;
  const c = pod.containers[0];
  t.equal(c.envFrom[0].configMapRef.name, cm.metadata.name, 'envFrom the ConfigMap');
  t.equal(c.readinessProbe.httpGet.path, '/readyz');
  t.equal(c.livenessProbe.httpGet.path, '/healthz');
  t.ok(c.resources.requests && c.resources.limits, 'resources');
  t.equal(pod.securityContext.runAsNonRoot, true);
  t.equal(c.securityContext.readOnlyRootFilesystem, true);
  t.ok(pod.terminationGracePeriodSeconds > Number(cm.data.SHUTDOWN_GRACE_SECONDS), 'the pod outlives the shutdown grace');
  const secret = find('Secret') as unknown as { metadata: { name: string }; stringData: Record<string, string> };
  const secretVolume = pod.volumes.find((v: any) => v.secret?.secretName === secret.metadata.name);
  t.ok(secretVolume, 'the Secret is mounted');
  for (const item of secretVolume.secret.items) t.ok(item.key in secret.stringData, `Secret key ${item.key} exists`);
  const mount = c.volumeMounts.find((m: any) => m.name === secretVolume.name);
  t.equal(cm.data.DMS_MASTER_PASSWORD_FILE, `${mount.mountPath}/${secretVolume.secret.items[0].path}`, 'DMS_MASTER_PASSWORD_FILE points at the mounted secret');
  const ports = new Set(c.ports.map((p: any) => p.name));
  const svc = find('Service', 'oauth2-mail-proxy') as unknown as { spec: { ports: Array<{ port: number; targetPort: string }> } };
  for (const p of svc.spec.ports) t.ok(ports.has(p.targetPort), `Service targetPort ${p.targetPort} is a container port`);
  t.same(svc.spec.ports.map((p) => p.port).sort(), [143, 465, 587, 993]);
  for (const probe of [c.readinessProbe, c.livenessProbe]) t.ok(ports.has(probe.httpGet.port), 'probes use a named container port');
  t.equal(cm.data.LISTEN_HTTP, `0.0.0.0:${c.ports.find((p: any) => p.name === 'http').containerPort}`, 'LISTEN_HTTP matches the http port');
  const hpa = find('HorizontalPodAutoscaler') as unknown as { spec: { scaleTargetRef: { name: string }; minReplicas: number } };
  t.equal(hpa.spec.scaleTargetRef.name, 'oauth2-mail-proxy');
  t.ok(hpa.spec.minReplicas >= 2);
});
