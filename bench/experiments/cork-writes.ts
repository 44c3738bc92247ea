import type { Socket } from 'node:net'

/**
 * Experiment `cork-writes`, applied in the proxy child: every frame a client socket is sent
 * within one tick leaves in one write. The proxy writes each line of a worker's answer as its
 * own frame, each a writev syscall of its own; this shows what batching them (corking the
 * socket around the loop in RelaySession#sendLines) would gain.
 */
export async function installCorkWrites(): Promise<void> {
  const { WebSocket } = await import('ws')
  const send = WebSocket.prototype.send as (...args: unknown[]) => void
  const corked = new WeakSet<Socket>()
  WebSocket.prototype.send = function (this: InstanceType<typeof WebSocket>, ...args: unknown[]) {
    // ws keeps the TCP socket in `_socket`; ws's own per-frame cork nests inside this one.
    const socket = (this as unknown as { _socket?: Socket })._socket
    if (socket !== undefined && !corked.has(socket)) {
      corked.add(socket)
      socket.cork()
      process.nextTick(() => {
        corked.delete(socket)
        socket.uncork()
      })
    }
    send.apply(this, args)
  } as typeof WebSocket.prototype.send
}
