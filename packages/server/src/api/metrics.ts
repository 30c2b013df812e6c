import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  readonly registry: Registry;
  countError(code: string): void;
}

/** Prometheus metrics for one server: requests, latency, in-flight requests, errors by code. */
export function registerMetrics(app: FastifyInstance, requestsInFlight: () => number): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'parley_' });
  const requests = new Counter({
    name: 'parley_http_requests_total',
    help: 'HTTP requests answered, by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'parley_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by method and route',
    labelNames: ['method', 'route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  new Gauge({
    name: 'parley_http_requests_in_flight',
    help: 'HTTP requests being answered now (streams included)',
    registers: [registry],
    collect() {
      this.set(requestsInFlight());
    },
  });
  const errors = new Counter({
    name: 'parley_http_errors_total',
    help: 'Error responses, by error code',
    labelNames: ['code'] as const,
    registers: [registry],
  });

  // The series of each method, route and status, looked up once: prom-client hashes a set of
  // labels on every call made with it, a cost per request that a lookup by one string avoids.
  const series = new Map<
    string,
    { count: ReturnType<typeof requests.labels>; time: ReturnType<typeof duration.labels> }
  >();
  app.addHook('onResponse', (request, reply, done) => {
    const { method } = request;
    const route = request.routeOptions.url ?? 'unmatched';
    const status = reply.statusCode;
    const key = `${method} ${status} ${route}`;
    let answered = series.get(key);
    if (!answered) {
      answered = { count: requests.labels(method, route, String(status)), time: duration.labels(method, route) };
      series.set(key, answered);
    }
    answered.count.inc();
    answered.time.observe(reply.elapsedTime / 1000);
    done();
  });

  return { registry, countError: (code) => errors.inc({ code }) };
}
