import type { Ref } from "react";

interface Props {
  ref: Ref<HTMLVideoElement>;
  muted: boolean;
  controls: boolean;
  className?: string;
  onPlaying?: () => void;
}

/** The <video> of a live player (MSE or HLS): inline, autoplaying, muted unless asked. */
export function LiveVideo({ ref, muted, controls, className, onPlaying }: Props) {
  return (
    <video ref={ref} className={className} muted={muted} controls={controls} playsInline autoPlay onPlaying={onPlaying} data-testid="live-video" />
  );
}
