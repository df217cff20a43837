import { expect } from 'chai';
import { decideRegister, type ApplyRegisterInput, type LockedUser, type StoredBinding } from '../../sip/registrar/register-decision.js';
import type { RequestedContact } from '../../sip/registrar/binding-plan.js';

// The REGISTER rule without a database: the adapters (SQLite, MySQL) only write what this returns.

const NOW = new Date('2026-03-01T12:00:00.000Z');
const user = (o: Partial<LockedUser> = {}): LockedUser => ({ version: 3, status: 'active', max_bindings: 2, binding_policy: null, ...o });

function contact(uri: string, o: Partial<RequestedContact> = {}): RequestedContact {
  return { uri, raw: `<${uri}>`, expires: 600, q: null, instanceId: null, regId: null, ...o };
}

let nextId = 1;
function binding(uri: string, o: Partial<StoredBinding> = {}): StoredBinding {
  const id = nextId++;
  return {
    id,
    account_id: 7,
    user_id: 42,
    aor: 'sip:alice@example.test',
    contact_uri: uri,
    contact_raw: `<${uri}>`,
    q: null,
    expires_at: new Date(NOW.getTime() + 300_000),
    call_id: `call-${id}`,
    cseq: 1,
    instance_id: null,
    reg_id: null,
    path: null,
    transport: 'udp',
    source_address: '192.0.2.1',
    source_port: 5060,
    connection_id: null,
    node_id: 'node-a',
    user_agent: `Phone ${id}`,
    unreachable: false,
    registered_at: new Date(NOW.getTime() - id * 60_000),
    updated_at: new Date(NOW.getTime() - 1000),
    ...o,
  };
}

function request(contacts: ApplyRegisterInput['contacts'], o: Partial<ApplyRegisterInput> = {}): ApplyRegisterInput {
  return {
    userId: 42,
    accountId: 7,
    expectedVersion: 3,
    accountPolicy: 'reject',
    aor: 'sip:alice@example.test',
    contacts,
    callId: 'new-call',
    cseq: 5,
    origin: { transport: 'udp', sourceAddress: '198.51.100.9', sourcePort: 5062, connectionId: null, nodeId: 'node-b', userAgent: 'New Phone', path: null },
    now: NOW,
    ...o,
  };
}

describe('REGISTER decision (pure, no database)', () => {
  it('adds a new device under max_bindings: one insert, a created event, the 200 lists every binding', () => {
    const desk = binding('sip:desk@192.0.2.1');
    const d = decideRegister(user(), [desk], request([contact('sip:mobile@198.51.100.9:5062')]));
    expect(d.kind).to.equal('write');
    if (d.kind !== 'write') return;
    expect(d.inserts).to.have.length(1);
    expect(d.inserts[0]).to.include({ contact_uri: 'sip:mobile@198.51.100.9:5062', user_id: 42, call_id: 'new-call', cseq: 5, node_id: 'node-b' });
    expect(d.updates).to.deep.equal([]);
    expect(d.drop).to.deep.equal([]);
    expect(d.change.outbox.map((r) => r.type)).to.deep.equal(['registration.created']);
    if (d.result.kind !== 'ok') throw new Error('not ok');
    expect(d.result.bindings.map((b) => b.contact_uri)).to.deep.equal(['sip:desk@192.0.2.1', 'sip:mobile@198.51.100.9:5062']);
    expect(d.result.added).to.equal(1);
  });

  it('refuses a new device at max_bindings before writing anything, naming the holders (RFC 3261 §10.3 + the reject policy)', () => {
    const held = [binding('sip:a@192.0.2.1'), binding('sip:b@192.0.2.2')];
    const d = decideRegister(user(), held, request([contact('sip:c@192.0.2.3')]));
    expect(d.kind).to.equal('done');
    if (d.kind !== 'done') return;
    expect(d.result).to.deep.include({ kind: 'rejected', outcome: 'too_many_bindings', maxBindings: 2 });
    expect(d.rejection!.holders.map((h) => h.contact_uri)).to.deep.equal(['sip:a@192.0.2.1', 'sip:b@192.0.2.2']);
    expect(d.outbox!.map((r) => r.type)).to.deep.equal(['registration.rejected']);
  });

  it('max_bindings 0 disables registration for the user', () => {
    const d = decideRegister(user({ max_bindings: 0 }), [], request([contact('sip:a@192.0.2.1')]));
    expect(d.kind === 'done' && d.result.kind === 'rejected' && d.result.outcome).to.equal('registration_disabled');
  });

  it('a refresh at the limit updates its own binding and takes no slot', () => {
    const a = binding('sip:a@192.0.2.1', { call_id: 'new-call', cseq: 4 });
    const b = binding('sip:b@192.0.2.2');
    const d = decideRegister(user(), [a, b], request([contact('sip:a@192.0.2.1', { expires: 900 })]));
    expect(d.kind).to.equal('write');
    if (d.kind !== 'write') return;
    expect(d.inserts).to.deep.equal([]);
    expect(d.updates.map((u) => u.id)).to.deep.equal([a.id]);
    expect((d.updates[0]!.values.expires_at as Date).getTime()).to.equal(NOW.getTime() + 900_000);
    expect(d.change.outbox.map((r) => r.type)).to.deep.equal(['registration.refreshed']);
  });

  it('refuses a request whose CSeq is below the stored one for the same Call-ID (RFC 3261 §10.3 step 7)', () => {
    const a = binding('sip:a@192.0.2.1', { call_id: 'new-call', cseq: 6 });
    const d = decideRegister(user(), [a], request([contact('sip:a@192.0.2.1')]));
    expect(d.kind === 'done' && d.result.kind === 'rejected' && d.result.outcome).to.equal('out_of_order');
    expect(d.kind === 'done' && d.outbox).to.equal(undefined);
  });

  it('answers a retransmission of the REGISTER that wrote a binding (same Call-ID and CSeq) with the bindings as they are, writing nothing', () => {
    const a = binding('sip:a@192.0.2.1', { call_id: 'new-call', cseq: 5 });
    const b = binding('sip:b@192.0.2.2');
    const d = decideRegister(user(), [a, b], request([contact('sip:a@192.0.2.1', { expires: 900 })]));
    expect(d).to.deep.include({ kind: 'done', replay: true });
    if (d.kind !== 'done' || d.result.kind !== 'ok') throw new Error('not a 200');
    expect(d.result.bindings.map((x) => x.id)).to.deep.equal([a.id, b.id]);
    expect(d.result.bindings[0]!.expires_at).to.equal(a.expires_at);
    expect(d.outbox).to.equal(undefined);
  });

  it('a retransmitted removal finds nothing left to remove and is answered 200 again', () => {
    const b = binding('sip:b@192.0.2.2');
    const d = decideRegister(user(), [b], request([contact('sip:a@192.0.2.1', { expires: 0 })]));
    expect(d.kind).to.equal('write');
    if (d.kind !== 'write') return;
    expect(d.result.removed).to.equal(0);
    expect(d.result.bindings.map((x) => x.id)).to.deep.equal([b.id]);
  });

  it('a retransmission still needs a current user: a changed password (version) is not answered from the old bindings', () => {
    const a = binding('sip:a@192.0.2.1', { call_id: 'new-call', cseq: 5 });
    const d = decideRegister(user({ version: 4 }), [a], request([contact('sip:a@192.0.2.1')]));
    expect(d.kind === 'done' && d.result.kind).to.equal('stale_credentials');
  });

  it("replaces a device's own binding by +sip.instance and reg-id from a new address, at the limit (RFC 5626 §6)", () => {
    const inst = '<urn:uuid:00000000-0000-1000-8000-000000000001>';
    const mine = binding('sip:phone@192.0.2.1:5060', { instance_id: inst, reg_id: 1 });
    const other = binding('sip:other@192.0.2.2');
    const d = decideRegister(user(), [mine, other], request([contact('sip:phone@203.0.113.5:40000', { instanceId: inst, regId: 1 })]));
    expect(d.kind).to.equal('write');
    if (d.kind !== 'write') return;
    expect(d.inserts).to.deep.equal([]);
    expect(d.updates.map((u) => u.id)).to.deep.equal([mine.id]);
    expect(d.updates[0]!.values).to.include({ contact_uri: 'sip:phone@203.0.113.5:40000', source_address: '198.51.100.9' });
  });

  it('evict_oldest makes room by removing the oldest binding, with a removed (evicted) event', () => {
    const older = binding('sip:old@192.0.2.1', { registered_at: new Date(NOW.getTime() - 9e6) });
    const newer = binding('sip:new@192.0.2.2', { registered_at: new Date(NOW.getTime() - 1e6) });
    const d = decideRegister(user({ binding_policy: 'evict_oldest' }), [newer, older], request([contact('sip:third@192.0.2.3')]));
    expect(d.kind).to.equal('write');
    if (d.kind !== 'write') return;
    expect(d.drop).to.deep.equal([older.id]);
    expect(d.change.evicted.map((b) => b.id)).to.deep.equal([older.id]);
    expect(d.change.outbox.map((r) => [r.type, 'reason' in r ? r.reason : null])).to.deep.equal([
      ['registration.created', null],
      ['registration.removed', 'evicted'],
    ]);
  });

  it('the account policy applies when the user has none; evict_unreachable only evicts unreachable bindings', () => {
    const ok = binding('sip:ok@192.0.2.1');
    const dead = binding('sip:dead@192.0.2.2', { unreachable: true });
    const d = decideRegister(user(), [ok, dead], request([contact('sip:third@192.0.2.3')], { accountPolicy: 'evict_unreachable' }));
    expect(d.kind === 'write' && d.drop).to.deep.equal([dead.id]);
    const none = decideRegister(user(), [ok, binding('sip:ok2@192.0.2.4')], request([contact('sip:third@192.0.2.3')], { accountPolicy: 'evict_unreachable' }));
    expect(none.kind === 'done' && none.result.kind === 'rejected' && none.result.outcome).to.equal('too_many_bindings');
  });

  it('expired rows do not count toward the limit and are dropped on the way, each with an expired event', () => {
    const gone = binding('sip:gone@192.0.2.1', { expires_at: new Date(NOW.getTime() - 1) });
    const live = binding('sip:live@192.0.2.2');
    const d = decideRegister(user(), [gone, live], request([contact('sip:new@192.0.2.3')]));
    expect(d.kind).to.equal('write');
    if (d.kind !== 'write') return;
    expect(d.drop).to.deep.equal([gone.id]);
    expect(d.inserts).to.have.length(1);
    expect(d.change.outbox.map((r) => r.type)).to.deep.equal(['registration.created', 'registration.expired']);
  });

  it('Contact: * removes every binding (unregistered_all); Expires 0 removes one (unregistered)', () => {
    const a = binding('sip:a@192.0.2.1');
    const b = binding('sip:b@192.0.2.2');
    const all = decideRegister(user(), [a, b], request('wildcard'));
    expect(all.kind === 'write' && all.drop).to.deep.equal([a.id, b.id]);
    expect(all.kind === 'write' && all.change.outbox.map((r) => 'reason' in r && r.reason)).to.deep.equal(['unregistered_all', 'unregistered_all']);
    const one = decideRegister(user(), [a, b], request([contact('sip:b@192.0.2.2', { expires: 0 })]));
    expect(one.kind === 'write' && one.drop).to.deep.equal([b.id]);
    if (one.kind === 'write' && one.result.kind === 'ok') expect(one.result.bindings.map((x) => x.id)).to.deep.equal([a.id]);
  });

  it('a query (no Contact) writes nothing and lists the live bindings', () => {
    const a = binding('sip:a@192.0.2.1');
    const d = decideRegister(user(), [a, binding('sip:x@192.0.2.9', { expires_at: new Date(NOW.getTime() - 5) })], request('query'));
    expect(d.kind).to.equal('done');
    expect(d.kind === 'done' && d.result.kind === 'ok' && d.result.bindings.map((b) => b.id)).to.deep.equal([a.id]);
  });

  it('asks for re-authentication when the user changed since the credentials were checked, and refuses a disabled user', () => {
    expect(decideRegister(user({ version: 4 }), [], request([contact('sip:a@192.0.2.1')])).result.kind).to.equal('stale_credentials');
    expect(decideRegister(undefined, [], request([contact('sip:a@192.0.2.1')])).result.kind).to.equal('stale_credentials');
    expect(decideRegister(user({ status: 'disabled' }), [], request([contact('sip:a@192.0.2.1')])).result.kind).to.equal('user_disabled');
  });
});
