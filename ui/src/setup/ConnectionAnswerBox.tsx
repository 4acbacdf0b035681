import type { ConnectionAnswer, StreamAnswer } from "../types";

/** What a stream is, in a few words: "h264 1920×1080, audio aac". */
export function describeStream(s: StreamAnswer): string {
  const size = s.width && s.height ? ` ${s.width}×${s.height}` : "";
  return `${s.video_codec ?? "video"}${size}${s.audio_codec ? `, audio ${s.audio_codec}` : ""}`;
}

/** The connection test's answer: what each stream is, or why it cannot be opened. */
export function ConnectionAnswerBox({ answer }: { answer: ConnectionAnswer }) {
  const sub = answer.sub_stream;
  return (
    <p className={answer.ok ? "ok-box" : "error-box"} data-testid="connection-answer">
      {answer.ok
        ? `Connected: ${describeStream(answer)}${sub ? `; sub-stream ${describeStream(sub)}` : ""}`
        : `Cannot connect: ${answer.reason}`}
    </p>
  );
}
