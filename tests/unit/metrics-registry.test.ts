import { expect } from 'chai'
import { Counter, register } from 'prom-client'
import {
  METRIC_PREFIX,
  createMetricsRegistry,
  metricName,
} from '../../shared/metrics/create-metrics-registry.js'

describe('createMetricsRegistry', () => {
  it('returns a separate registry per call, never the global one', async () => {
    const a = createMetricsRegistry({ defaultMetrics: false })
    const b = createMetricsRegistry({ defaultMetrics: false })
    expect(a).not.to.equal(b)
    expect(a).not.to.equal(register)
    const name = metricName('test', 'isolated_total')
    new Counter({ name, help: 'h', registers: [a] }).inc()
    expect(a.getSingleMetric(name)).not.to.equal(undefined)
    expect(b.getSingleMetric(name)).to.equal(undefined)
    expect(register.getSingleMetric(name)).to.equal(undefined)
    expect(await b.getMetricsAsJSON()).to.deep.equal([])
  })

  it('registers default process metrics under the gateway prefix', async () => {
    const registry = createMetricsRegistry()
    const metrics = await registry.getMetricsAsJSON()
    expect(metrics.length).to.be.greaterThan(5)
    for (const metric of metrics) expect(metric.name).to.match(/^hypertuna_gateway_/)
    expect(metrics.map((m) => m.name)).to.include(
      'hypertuna_gateway_process_cpu_user_seconds_total',
    )
    expect(register.getSingleMetric('hypertuna_gateway_process_cpu_user_seconds_total')).to.equal(
      undefined,
    )
  })

  it('adds the given labels to every metric', async () => {
    const registry = createMetricsRegistry({ labels: { role: 'proxy' } })
    const text = await registry.metrics()
    expect(text).to.contain('hypertuna_gateway_process_cpu_user_seconds_total{role="proxy"}')
  })
})

describe('metricName', () => {
  it('joins prefix, subsystem and name', () => {
    expect(METRIC_PREFIX).to.equal('hypertuna_gateway_')
    expect(metricName('proxy', 'sessions_active')).to.equal(
      'hypertuna_gateway_proxy_sessions_active',
    )
  })
})
