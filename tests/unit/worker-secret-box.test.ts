import { randomBytes } from 'node:crypto'
import { expect } from 'chai'
import {
  WORKER_ID_PATTERN,
  WORKER_SECRET_PATTERN,
  newWorkerId,
  newWorkerSecret,
} from '../../shared/auth/worker-credentials.js'
import { WorkerSecretBox } from '../../shared/auth/worker-secret-box.js'
import { ErrorCode } from '../../shared/errors.js'
import { thrown } from '../helpers/thrown.js'

const key = () => randomBytes(32).toString('hex')

describe('worker credentials and WorkerSecretBox', () => {
  it('makes 32-hex ids and 64-hex secrets, fresh each time', () => {
    expect(newWorkerId()).to.match(WORKER_ID_PATTERN)
    expect(newWorkerSecret()).to.match(WORKER_SECRET_PATTERN)
    expect(newWorkerSecret()).not.to.equal(newWorkerSecret())
  })

  it('opens what it sealed, and the sealed form never contains the secret', () => {
    const box = new WorkerSecretBox(key())
    const [id, secret] = [newWorkerId(), newWorkerSecret()]
    const sealed = box.seal(id, secret)
    expect(sealed).to.match(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/)
    expect(sealed).not.to.contain(secret)
    expect(box.open(id, sealed)).to.equal(secret)
    // A fresh IV per seal.
    expect(box.seal(id, secret)).not.to.equal(sealed)
  })

  it('refuses another key, another account, tampering and garbage with null', () => {
    const k = key()
    const box = new WorkerSecretBox(k)
    const id = newWorkerId()
    const sealed = box.seal(id, newWorkerSecret())
    expect(new WorkerSecretBox(key()).open(id, sealed)).to.equal(null)
    expect(box.open(newWorkerId(), sealed)).to.equal(null)
    const parts = sealed.split('.')
    const body = Buffer.from(parts[2] as string, 'base64url')
    body[0] = (body[0] as number) ^ 1
    parts[2] = body.toString('base64url')
    expect(box.open(id, parts.join('.'))).to.equal(null)
    for (const junk of ['', 'v1', 'v2.a.b.c', 'v1.a.b.c', 42, null, 'x'.repeat(5000)]) {
      expect(box.open(id, junk)).to.equal(null)
    }
    expect(new WorkerSecretBox(k).open(id, sealed)).not.to.equal(null)
  })

  it('insists on a 64-hex key', () => {
    for (const bad of ['', 'ab', key().slice(2), `${key().slice(2)}zz`]) {
      expect(thrown(() => new WorkerSecretBox(bad))).to.have.property(
        'code',
        ErrorCode.CONFIG_INVALID,
      )
    }
  })
})
