// Container health check (Dockerfile HEALTHCHECK): `healthcheck.js worker` asks the worker's metrics endpoint,
// `healthcheck.js intake` the intake's /healthz (which itself checks Temporal). Exit 0 healthy, 1 not.
import { request } from 'undici';

const role = process.argv[2] ?? process.env.SERVICE_ROLE ?? 'worker';
const url = role === 'intake' ? `http://127.0.0.1:${process.env.INTAKE_PORT || 8787}/healthz` : `http://127.0.0.1:${process.env.METRICS_PORT || 9464}/metrics`;

request(url, { headersTimeout: 4_000, bodyTimeout: 4_000 })
  .then(async (res) => {
    await res.body.dump();
    process.exit(res.statusCode === 200 ? 0 : 1);
  })
  .catch(() => process.exit(1));
