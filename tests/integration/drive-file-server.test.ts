import { expect } from 'chai'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DriveFileServer } from '../../shared/worker/drive-file-server.js'
import { download, fileRangeSha256, writePatternFile } from '../helpers/big-file.js'
import type { PatternFile } from '../helpers/big-file.js'
import { requestBinary } from '../helpers/edge-client.js'

const RELAY = 'a'.repeat(64)

describe('DriveFileServer (the worker-side file service tunnel mode fronts)', function () {
  this.timeout(20_000)
  let dir: string
  let file: PatternFile
  let server: DriveFileServer
  let base: string

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'drive-files-'))
    mkdirSync(join(dir, 'pfp', 'alice'), { recursive: true })
    file = await writePatternFile(join(dir, 'blob.bin'), 3 * 1024 * 1024 + 17)
    writeFileSync(join(dir, '.secret'), 'hidden')
    writeFileSync(join(dir, 'pfp', 'me.png'), 'avatar')
    writeFileSync(join(dir, 'pfp', 'alice', 'me.png'), 'alice avatar')
    server = new DriveFileServer({
      root: dir,
      identifiers: [RELAY, 'myrelay'],
      avatars: join(dir, 'pfp'),
    })
    const { host, port } = await server.start()
    expect(host).to.equal('127.0.0.1')
    base = `http://127.0.0.1:${port}`
  })

  after(async () => {
    await server?.close()
    await server?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('streams a whole file with its length, and Range requests as 206 with the right bytes', async () => {
    const whole = await download(`${base}/drive/${RELAY}/blob.bin`)
    expect(whole.status).to.equal(200)
    expect(whole.headers['content-length']).to.equal(String(file.size))
    expect(whole.headers['accept-ranges']).to.equal('bytes')
    expect(whole.sha256).to.equal(file.sha256)

    const start = 1_000_003
    const end = 2_500_000
    const part = await download(`${base}/drive/myrelay/blob.bin`, {
      headers: { range: `bytes=${start}-${end}` },
    })
    expect(part.status).to.equal(206)
    expect(part.headers['content-range']).to.equal(`bytes ${start}-${end}/${file.size}`)
    expect(part.bytes).to.equal(end - start + 1)
    expect(part.sha256).to.equal(await fileRangeSha256(file.path, start, end))

    const beyond = await download(`${base}/drive/${RELAY}/blob.bin`, {
      headers: { range: `bytes=${file.size}-` },
    })
    expect(beyond.status).to.equal(416)
  })

  it('answers HEAD and conditional GET without a body', async () => {
    const head = await download(`${base}/drive/${RELAY}/blob.bin`, { method: 'HEAD' })
    expect(head.status).to.equal(200)
    expect(head.headers['content-length']).to.equal(String(file.size))
    expect(head.bytes).to.equal(0)
    const etag = head.headers.etag as string
    const again = await download(`${base}/drive/${RELAY}/blob.bin`, {
      headers: { 'if-none-match': etag },
    })
    expect(again.status).to.equal(304)
    expect(again.bytes).to.equal(0)
  })

  it('serves avatars from their own directory', async () => {
    const mine = await requestBinary(`${base}/pfp/me.png`)
    expect(mine.status).to.equal(200)
    expect(mine.body.toString()).to.equal('avatar')
    const alice = await requestBinary(`${base}/pfp/alice/me.png`)
    expect(alice.body.toString()).to.equal('alice avatar')
  })

  it('refuses other relays, dotfiles, escapes from the root, other methods and paths', async () => {
    const status = async (path: string, method = 'GET') =>
      (await requestBinary(`${base}${path}`, { method })).status
    expect(await status(`/drive/${'b'.repeat(64)}/blob.bin`)).to.equal(404)
    expect(await status(`/drive/${RELAY}/.secret`)).to.equal(404)
    expect(await status(`/drive/${RELAY}/..%2f..%2fetc%2fpasswd`)).to.equal(404)
    expect(await status(`/drive/${RELAY}/%2e%2e%2fblob.bin`)).to.equal(404)
    expect(await status(`/drive/${RELAY}/missing.bin`)).to.equal(404)
    expect(await status(`/drive/%E0%A4%A/blob.bin`)).to.equal(404)
    expect(await status(`/drive/${RELAY}`)).to.equal(404)
    expect(await status(`/pfp/alice`)).to.equal(404)
    expect(await status(`/`)).to.equal(404)
    const post = await requestBinary(`${base}/drive/${RELAY}/blob.bin`, { method: 'POST' })
    expect(post.status).to.equal(405)
    expect(post.headers.allow).to.equal('GET, HEAD')
  })
})
