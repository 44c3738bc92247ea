import type { Socket } from 'node:net'
import type { WebSocket } from 'ws'

/**
 * Runs `send` with the client's TCP socket corked, so every frame it writes leaves in one
 * write: a worker's answer is several relay messages (stored events, then EOSE), each its own
 * WebSocket frame, and one syscall per frame was the largest single cost in the proxy's
 * profile (bench/README.md). ws keeps the socket in `_socket` and corks it per frame itself;
 * this cork nests around those.
 */
export function corked(ws: WebSocket, send: () => void): void {
  const socket = (ws as unknown as { _socket?: Socket | null })._socket
  if (socket === undefined || socket === null) return send()
  socket.cork()
  try {
    send()
  } finally {
    socket.uncork()
  }
}
