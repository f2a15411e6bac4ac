// An application's use of the package, type-checked by scripts/test against the built typings:
// it must compile under `strict`, and no public method may be typed `any` (the checks below fail
// to compile if one becomes `any`).
import init, {
  CallClient,
  VideoStreamRenderer,
  explain,
  setLocale,
  type AppelError,
  type Call,
  type CallAgent,
  type EndedBy,
  type Explanation,
  type IncomingCall,
  type RemoteParticipant,
} from '@appel/sdk';

type IsAny<T> = 0 extends 1 & T ? true : false;
// Compiles only when `value`'s inferred type is not `any` (an `any` asks for one more argument).
const typed = <T>(value: T, ..._: IsAny<T> extends true ? ['typed any'] : []): T => value;

export async function example(token: string, bob: string): Promise<void> {
  await init();
  setLocale('fr');
  const client = new CallClient({ mobile: false });
  const agent: CallAgent = typed(
    await client.createCallAgent(token, { serverUrl: 'https://appel.example', reconnect: { graceMs: 60_000 } }),
  );
  agent.on('incomingCall', async (incoming: IncomingCall) => {
    const answered: Call = typed(await incoming.accept({ video: true }));
    await typed(answered.hangUp({ forEveryone: false }));
  });
  const call = agent.startCall([bob], { video: true, joinable: false });
  call.on('ended', () => {
    const by: EndedBy | null = call.endedBy;
    const reason = call.callEndReason;
    if (reason) {
      const entry: Explanation = typed(explain(reason.code, reason.subCode, 'en'));
      console.log(entry.endUser?.caller ?? entry.message, by);
    }
  });
  try {
    await typed(call.mute());
    await typed(call.hold());
  } catch (e) {
    const error = e as AppelError;
    console.log(error.code, error.subCode, error.resultCategory, error.advice);
  }
  const permissions = typed(await client.getDeviceManager().askDevicePermission({ audio: true, video: true }));
  console.log(permissions.audio, permissions.video);
  // A group call: joined by id, every other participant's video in a view of its own.
  const group: Call = typed(agent.join('9f0c…', { video: true }));
  await typed(group.addParticipant(bob));
  group.on('mediaPathChanged', () => console.log(group.usesMediaServer));
  for (const participant of group.remoteParticipants) {
    const p: RemoteParticipant = typed(participant);
    const [stream] = p.videoStreams;
    if (stream && stream.isAvailable) {
      const view = typed(await new VideoStreamRenderer(stream).createView({ timeoutMs: 15_000 }));
      console.log(p.identity, p.isMuted, view.target, (await p.audioStats()).packetsReceived);
    }
  }
  agent.joinRoom('room-1', { video: false });
}
