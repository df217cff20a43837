// The floor under the registrar bench (npm run bench:register -- --with-node-floor):
// a Node process that answers the same sipp traffic with no registrar behind
// it. A REGISTER without Authorization gets a 401 with a fixed challenge, one
// with it a 200; nothing is parsed beyond the headers a response copies,
// nothing is checked, nothing is stored. Its CPU per registration is what
// Node's event loop and UDP sockets cost for this traffic on this machine,
// the part of Switchboard's figure no registrar code can remove.
//
// Plain JavaScript so that it runs on node alone: argv[2] is the UDP port on 127.0.0.1.
import dgram from 'node:dgram';

const port = Number(process.argv[2]);
const socket = dgram.createSocket('udp4');
const COPIED = /^(via|v|from|f|to|t|call-id|i|cseq):/i;

socket.on('message', (msg, rinfo) => {
  const text = msg.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const lines = text.slice(0, end < 0 ? text.length : end).split('\r\n');
  if (!lines[0]?.startsWith('REGISTER ')) return;
  let authorized = false;
  let contact = '';
  const copied = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (COPIED.test(line)) copied.push(/^(to|t):/i.test(line) ? `${line};tag=floor` : line);
    else if (/^authorization:/i.test(line)) authorized = true;
    else if (/^(contact|m):/i.test(line)) contact = line.slice(line.indexOf(':') + 1).trim();
  }
  const head = authorized
    ? ['SIP/2.0 200 OK', ...copied, `Contact: ${contact};expires=3600`]
    : ['SIP/2.0 401 Unauthorized', ...copied, 'WWW-Authenticate: Digest realm="floor", nonce="0123456789abcdef0123456789abcdef", algorithm=MD5, qop="auth"'];
  socket.send(`${head.join('\r\n')}\r\nContent-Length: 0\r\n\r\n`, rinfo.port, rinfo.address);
});

socket.bind(port, '127.0.0.1', () => process.send?.('listening'));
process.on('SIGTERM', () => socket.close(() => process.exit(0)));
