/**
 * The heartbeat feature: notices a dead connection that never closes (a sleeping laptop, a
 * proxy that dropped the TCP state) by pinging when nothing arrived for a while. The rules are
 * in liveness.ts; this module arms the feature's timer and sends the pings.
 */
import type { Connection } from '../connection';
import { causeText, SteadySocketError } from '../errors';
import { feature, later, type Feature, type FeatureHooks } from '../feature';
import { createLiveness, judge, sawActivity, sawPong, startInterval, startProbe, type Liveness } from '../liveness';
import { checkNumber, invalidOption } from '../options';
import { sendPing } from '../platform';

/** Liveness checking (see the guide). `In`/`Out` are the client's message types. */
export interface HeartbeatOptions<In = unknown, Out = unknown> {
  /**
   * Check period in ms: every `interval`, a ping is sent if nothing arrived since the last check.
   * A dead link is noticed within interval + timeout + max(interval, timeout): 2 × interval +
   * timeout when timeout ≤ interval (interval + timeout for a steady silence).
   */
  interval: number;
  /** Milliseconds to wait for any sign of life after a ping before the connection is declared dead. */
  timeout: number;
  /**
   * Builds an application-level ping. In Node (ws) the protocol ping frame is used unless this is
   * set. Browsers (and other injected constructors) have no protocol ping: without this nothing
   * is sent, any message counts as a sign of life, and a connection quiet for longer than the
   * window is closed as dead, so give `ping` and `isPong` there (they also give the round-trip
   * time) unless the server sends something at least every `interval` ms. Checked against the client's outbound type
   * and never used to infer it: its return type is the heartbeat's own (`const`, so a literal
   * `{ type: 'ping' }` keeps its literal type), and `use` takes features without inferring the
   * client's types from them. Give `isPong` with it: both or neither.
   */
  ping?: (() => Out) | undefined;
  /** Recognises the reply to `ping()`, given each decoded message. Such replies are not delivered as `message` events. Given with `ping` only. */
  isPong?: ((message: NoInfer<In>) => boolean) | undefined;
}

/** `ping` and `isPong` go together: one without the other throws `INVALID_OPTION`, so it does not compile either. */
export type PingPair<In, Out> = { ping: () => Out; isPong: (message: NoInfer<In>) => boolean } | { ping?: undefined; isPong?: undefined };

/**
 * Checks that the open connection is alive: every `interval` ms without traffic it sends a ping
 * and gives the connection `timeout` ms to show any sign of life; otherwise the connection is
 * dropped with `HEARTBEAT_TIMEOUT` and the client reconnects. Also measures the round-trip time
 * (`stats().snapshot().rtt`).
 */
export function heartbeat<In = any, const Out = any>(options: HeartbeatOptions<In, Out> & PingPair<In, Out>): Feature<In, Out> {
  if (options === null || typeof options !== 'object') invalidOption('heartbeat() takes { interval, timeout }.');
  checkNumber('heartbeat interval', options.interval, 1);
  checkNumber('heartbeat timeout', options.timeout, 1);
  const { ping, isPong }: HeartbeatOptions<In, Out> = options;
  // Both functions or neither (a ping that is no function failed every ping, and the connection).
  if (typeof ping !== typeof isPong || (ping && typeof ping != 'function')) invalidOption('heartbeat ping and isPong go together: give both or neither.');
  return feature<In, Out>((client) => {
    let live: Liveness | undefined;
    let conn: Connection<In> | undefined;

    const rearm = () => {
      startInterval(live!, Date.now(), options);
      client._arm(hooks, tick, options.interval);
    };

    const tick = () => {
      hooks.timer = undefined;
      if (!conn || !live || client.state !== 'open') return;
      const now = Date.now();
      const late = now - live.due;
      switch (judge(live, now, options)) {
        case 'rearm':
          return rearm();
        case 'grace':
          client._log?.(`heartbeat timeout ran ${late} ms late: waiting ${options.timeout} ms more for the pong`);
          return client._arm(hooks, tick, options.timeout);
        case 'dead':
          return client._fail(conn, new SteadySocketError('HEARTBEAT_TIMEOUT', `No sign of life for ${now - live.pingAt} ms after a ping (heartbeat).`));
        case 'probe':
          if (late > options.interval) client._log?.(`timer fired ${late} ms late: the machine slept; checking the connection`);
          probe();
      }
    };

    const probe = () => {
      const target = conn!;
      startProbe(live!, Date.now(), options);
      try {
        // Closing (not writable): no ping; the timeout below ends it if its close event never comes.
        if (client._writable() === target) {
          if (ping) {
            let message: Out;
            try {
              message = ping();
            } catch (cause) {
              // The application's ping() threw: no message to send (the connection is not at fault).
              throw new SteadySocketError('ENCODE_FAILED', `The heartbeat's ping() threw: ${causeText(cause)}`, cause);
            }
            client._write(target, message);
          } else sendPing(target);
        }
      } catch (error) {
        client._emitError(error instanceof SteadySocketError ? error : new SteadySocketError('HEARTBEAT_TIMEOUT', 'Sending a ping failed.', error));
        if (target !== conn || client.state !== 'open') return; // a listener closed or reconnected
      }
      client._arm(hooks, tick, options.timeout);
    };

    /**
     * A sign of life after the page went offline: what waited in the outbox goes out, a microtask
     * later, so that the flush (and the drop listeners it may run) happens outside the hook loop
     * of the message or pong that showed it.
     */
    const release = () => {
      if (!client._held) return;
      client._held = false;
      client._log?.('the connection answered: writing what waited');
      later(() => client._flush());
    };

    const pong = () => {
      release();
      if (live && sawPong(live, Date.now())) rearm();
    };

    const hooks: FeatureHooks<In, Out> = {
      appPing: ping && isPong ? { ping, isPong } : undefined,
      get rtt() {
        return live?.rtt;
      },
      open(opened) {
        conn = opened;
        live = createLiveness();
        rearm();
      },
      received() {
        if (live) sawActivity(live);
        release();
      },
      message(value) {
        if (!isPong || !matchesPong(isPong, value)) return false;
        // Never a message event, also before open (during the ready step): a sign of life once live.
        if (live) pong();
        return true;
      },
      pong,
      // The page went offline while open. Chromium keeps such a socket open, and what is written
      // to it is lost if it died: new messages wait in the outbox until the connection shows a sign
      // of life, or the probe finds it dead and they go to the next connection. Bounded by the
      // probe's timeout, so a wrong `navigator.onLine` delays them, never holds them for good.
      probe() {
        if (!conn || !live || client.state !== 'open') return;
        client._held = true;
        client._log?.('offline: probing the connection; new messages wait for its answer');
        if (!live.probing) probe();
      },
      closed() {
        client._held = false;
        client._disarm(hooks);
        conn = live = undefined;
      },
    };
    return hooks;
  });
}

/** Whether `isPong` recognises `value`; an isPong that throws matches nothing. */
export function matchesPong<In>(isPong: (message: In) => boolean, value: In): boolean {
  try {
    return isPong(value);
  } catch {
    return false;
  }
}
