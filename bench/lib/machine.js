import os from 'node:os';

export function machineInfo() {
  const cpus = os.cpus();
  return {
    cores: os.availableParallelism(),
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    totalMemoryBytes: os.totalmem(),
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
  };
}

export function formatMachine(m) {
  const gib = (m.totalMemoryBytes / 2 ** 30).toFixed(1);
  return `machine: ${m.cores} cores, ${m.cpuModel}, ${gib} GiB RAM, Node ${m.node}, ${m.platform}`;
}
