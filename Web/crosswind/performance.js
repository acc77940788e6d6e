// Per-transport performance monitoring: what each transport did (attempts, opens, failures by
// kind, probes, messages, time open) and the latency of what it delivered.

/** A latency record: count, last, average, min, max (ms) and the newest samples. */
export function newLatency() {
  return { count: 0, last: null, average: null, min: null, max: null, samples: [] };
}

/** The figures of one transport, all zero. */
export function newPerformance() {
  return {
    attempts: 0, // connection attempts, probes included
    opens: 0, // attempts that were welcomed and became (or were switched to as) the transport
    failures: 0, // attempts that never opened: refused, failed, confirm timeouts, given up
    refused: 0, // of which refused (WebSocket error before open / 1006 before welcome)
    confirmTimeouts: 0, // of which the welcome never came
    heartbeatLosses: 0, // open connections that went silent for heartbeatTimeout
    closedAfterOpen: 0, // open connections closed by the server or lost
    streamsBehind: 0, // open connections ended because their messages stayed far behind
    bufferingDetections: 0, // open SSE streams ended because they arrived in held bursts
    reconnects: 0, // EventSource's own reconnects (a new welcome on the same attempt)
    probes: 0,
    probesSucceeded: 0,
    messages: 0, // delivered via this transport
    duplicates: 0, // suppressed on this transport
    timeOpenMs: 0,
    latency: newLatency(),
  };
}

/** Adds one latency `value` (ms), keeping the newest `keep` samples. */
export function recordLatency(record, value, keep) {
  record.count += 1;
  record.last = value;
  record.sum = (record.sum || 0) + value;
  record.average = record.sum / record.count;
  record.min = record.min === null ? value : Math.min(record.min, value);
  record.max = record.max === null ? value : Math.max(record.max, value);
  record.samples.push(value);
  if (record.samples.length > keep) record.samples.splice(0, record.samples.length - keep);
}

/** A deep copy of a latency record or a transport's figures, safe to keep, without the running sum. */
export function snapshot(record) {
  const copy = JSON.parse(JSON.stringify(record));
  delete (copy.latency || copy).sum;
  return copy;
}
