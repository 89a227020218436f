// `npm run compose:config`: docker-compose.yml loaded by Docker Compose itself (built from its Go module the first
// time) with the .env a newcomer copies (.env.example): the compose schema, every interpolation and every service.
// CI runs it; it fails on any error compose reports, or a service missing from what compose resolved.
import { COMPOSE_VERSION, composeConfig, resolveCompose } from '../cluster/compose-cli';

const EXPECTED = ['postgresql', 'temporal-schema', 'temporal', 'temporal-admin-tools', 'temporal-ui', 'worker', 'intake', 'prometheus'];

function main(): void {
  const binary = resolveCompose();
  const model = composeConfig();
  const services = Object.keys(model.services);
  const missing = EXPECTED.filter((s) => !services.includes(s));
  if (missing.length > 0) throw new Error(`compose resolved no service ${missing.join(', ')}`);
  process.stdout.write(
    `docker compose config (Compose ${COMPOSE_VERSION}, ${binary}) with .env.example: project ${model.name}, ${services.length} services: ${services.join(', ')}\n`,
  );
  for (const name of services) {
    const s = model.services[name]!;
    const ports = (s.ports ?? []).map((p) => `${p.host_ip ?? '0.0.0.0'}:${p.published}->${p.target}`).join(' ');
    process.stdout.write(`  ${name.padEnd(22)} ${s.image ?? '(built)'}${ports ? `  ${ports}` : ''}\n`);
  }
}

try {
  main();
} catch (err) {
  const stderr = (err as { stderr?: string }).stderr;
  process.stderr.write(`${stderr || (err instanceof Error ? err.message : String(err))}\n`);
  process.exit(1);
}
