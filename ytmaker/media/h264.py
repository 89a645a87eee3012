"""Just enough H.264 (ITU-T H.264 / ISO 14496-10) to repeat a picture for free.

The renderer has x264 code each distinct picture once and writes the frames that only
repeat it itself: a P picture whose single slice skips every macroblock. Under CAVLC
(``cabac=0``) its slice data is one ``mb_skip_run`` equal to the number of macroblocks, so
a whole 1080p frame costs a few bytes. A skipped macroblock copies the co-located block of
the newest reference picture (with no B-frames and all-skip slices the predicted motion
vector is zero everywhere, 8.4.1.1), so the decoded frame is bit-identical to the one
before it.

What has to be right for such a slice to be valid, all read from x264's SPS/PPS:
``frame_num`` is ``log2_max_frame_num`` bits and counts up by one (modulo MaxFrameNum) per
reference picture after each IDR; ``pic_order_cnt_type`` must be 2 (output order = decode
order, what x264 uses without B-frames), where no two consecutive pictures may be
non-reference, so the repeats are reference pictures (``nal_ref_idc`` > 0) with
sliding-window marking; the PPS must be CAVLC with one slice group and no weighted
prediction; the slice header carries the fields its PPS asks for (deblocking control,
redundant_pic_cnt). Raw byte sequence payloads are escaped with emulation-prevention bytes.

Here: a bit reader and writer (Exp-Golomb), NAL unit splitting and (un)escaping, SPS/PPS
and slice-header parsing, and :func:`skip_picture`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

START_CODE = b"\x00\x00\x00\x01"

NAL_SLICE = 1
NAL_IDR = 5
NAL_SEI = 6
NAL_SPS = 7
NAL_PPS = 8
NAL_AUD = 9

SLICE_P = 5  # slice_type 5: P, and every slice of the picture is P

_HIGH_PROFILES = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}


class H264Error(ValueError):
    """A bitstream this module cannot read or cannot extend."""


# ---------------------------------------------------------------- bits

class BitReader:
    """MSB-first reader over an RBSP (already unescaped)."""

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0  # in bits

    def u(self, n: int) -> int:
        value = 0
        for _ in range(n):
            byte = self.pos >> 3
            if byte >= len(self.data):
                raise H264Error("read past the end of the payload")
            value = (value << 1) | ((self.data[byte] >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return value

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise H264Error("Exp-Golomb code longer than 32 bits")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


class BitWriter:
    """MSB-first writer producing an RBSP."""

    def __init__(self) -> None:
        self._bits: list[int] = []

    def u(self, n: int, value: int) -> None:
        if value < 0 or value >= 1 << n:
            raise H264Error(f"{value} does not fit in {n} bits")
        self._bits.extend((value >> (n - 1 - i)) & 1 for i in range(n))

    def ue(self, value: int) -> None:
        if value < 0:
            raise H264Error(f"ue(v) cannot code {value}")
        code = value + 1
        length = code.bit_length()
        self.u(length - 1, 0)
        self.u(length, code)

    def se(self, value: int) -> None:
        self.ue(2 * value - 1 if value > 0 else -2 * value)

    def trailing_bits(self) -> None:
        """rbsp_trailing_bits(): a stop bit, then zeros to the byte boundary."""
        self._bits.append(1)
        while len(self._bits) % 8:
            self._bits.append(0)

    @property
    def bit_length(self) -> int:
        return len(self._bits)

    def to_bytes(self) -> bytes:
        if len(self._bits) % 8:
            raise H264Error("not byte-aligned: call trailing_bits() first")
        out = bytearray()
        for i in range(0, len(self._bits), 8):
            byte = 0
            for bit in self._bits[i : i + 8]:
                byte = (byte << 1) | bit
            out.append(byte)
        return bytes(out)


# ---------------------------------------------------------------- NAL units

def escape(rbsp: bytes) -> bytes:
    """Insert emulation_prevention_three_byte where two zero bytes precede a byte <= 3."""
    out = bytearray()
    zeros = 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def unescape(payload: bytes) -> bytes:
    """Remove emulation_prevention_three_bytes (00 00 03 -> 00 00)."""
    if b"\x00\x00\x03" not in payload:
        return payload
    out = bytearray()
    zeros = 0
    for byte in payload:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def nal_units(stream: bytes) -> Iterator[tuple[int, bytes]]:
    """(NAL type, NAL bytes after the start code, header byte included) of an Annex-B stream."""
    pos = stream.find(b"\x00\x00\x01")
    while pos != -1:
        begin = pos + 3
        nxt = stream.find(b"\x00\x00\x01", begin)
        end = len(stream) if nxt == -1 else nxt
        # trailing_zero_8bits / the leading zero of a 4-byte start code belong to no NAL
        while end > begin and stream[end - 1] == 0:
            end -= 1
        if end > begin:
            yield stream[begin] & 0x1F, stream[begin:end]
        pos = nxt


def nal(nal_ref_idc: int, nal_type: int, rbsp: bytes) -> bytes:
    """One NAL unit with a 4-byte start code."""
    return START_CODE + bytes([(nal_ref_idc << 5) | nal_type]) + escape(rbsp)


def access_units(stream: bytes) -> list[bytes]:
    """Split a stream written with an access unit delimiter before every picture (x264's
    ``aud=1``) into its access units, each starting with its start code."""
    starts: list[int] = []
    pos = stream.find(b"\x00\x00\x01")
    while pos != -1 and pos + 3 < len(stream):
        if stream[pos + 3] & 0x1F == NAL_AUD:
            starts.append(pos - 1 if pos > 0 and stream[pos - 1] == 0 else pos)
        pos = stream.find(b"\x00\x00\x01", pos + 3)
    if not starts:
        return []
    if starts[0] != 0 and stream[: starts[0]].strip(b"\x00"):
        raise H264Error("data before the first access unit delimiter")
    starts.append(len(stream))
    return [stream[a:b] for a, b in zip(starts, starts[1:])]


# ---------------------------------------------------------------- parameter sets

@dataclass(frozen=True)
class SPS:
    sps_id: int
    profile_idc: int
    chroma_format_idc: int
    separate_colour_plane: bool
    log2_max_frame_num: int
    pic_order_cnt_type: int
    max_num_ref_frames: int
    width_in_mbs: int
    height_in_map_units: int
    frame_mbs_only: bool

    @property
    def max_frame_num(self) -> int:
        return 1 << self.log2_max_frame_num

    @property
    def frame_mbs(self) -> int:
        """Macroblocks in a frame picture."""
        return self.width_in_mbs * self.height_in_map_units * (1 if self.frame_mbs_only else 2)


@dataclass(frozen=True)
class PPS:
    pps_id: int
    sps_id: int
    entropy_coding_mode: bool  # True: CABAC
    bottom_field_pic_order_in_frame_present: bool
    num_slice_groups: int
    num_ref_idx_l0_default_active: int
    weighted_pred: bool
    deblocking_filter_control_present: bool
    redundant_pic_cnt_present: bool


def _skip_scaling_list(r: BitReader, size: int) -> None:
    last, nxt = 8, 8
    for _ in range(size):
        if nxt != 0:
            nxt = (last + r.se() + 256) % 256
        last = nxt if nxt != 0 else last


def parse_sps(nal_unit: bytes) -> SPS:
    """A seq_parameter_set NAL (header byte first, escaped as in the stream)."""
    if nal_unit[0] & 0x1F != NAL_SPS:
        raise H264Error("not an SPS NAL unit")
    r = BitReader(unescape(nal_unit[1:]))
    profile_idc = r.u(8)
    r.u(8)  # constraint flags, reserved bits
    r.u(8)  # level_idc
    sps_id = r.ue()
    chroma_format_idc, separate = 1, False
    if profile_idc in _HIGH_PROFILES:
        chroma_format_idc = r.ue()
        if chroma_format_idc == 3:
            separate = bool(r.u(1))
        r.ue()  # bit_depth_luma_minus8
        r.ue()  # bit_depth_chroma_minus8
        r.u(1)  # qpprime_y_zero_transform_bypass_flag
        if r.u(1):  # seq_scaling_matrix_present_flag
            for i in range(8 if chroma_format_idc != 3 else 12):
                if r.u(1):
                    _skip_scaling_list(r, 16 if i < 6 else 64)
    log2_max_frame_num = r.ue() + 4
    poc_type = r.ue()
    if poc_type == 0:
        r.ue()  # log2_max_pic_order_cnt_lsb_minus4
    elif poc_type == 1:
        r.u(1)
        r.se()
        r.se()
        for _ in range(r.ue()):
            r.se()
    max_num_ref_frames = r.ue()
    r.u(1)  # gaps_in_frame_num_value_allowed_flag
    width_in_mbs = r.ue() + 1
    height_in_map_units = r.ue() + 1
    frame_mbs_only = bool(r.u(1))
    return SPS(sps_id, profile_idc, chroma_format_idc, separate, log2_max_frame_num, poc_type,
               max_num_ref_frames, width_in_mbs, height_in_map_units, frame_mbs_only)


def parse_pps(nal_unit: bytes) -> PPS:
    """A pic_parameter_set NAL (header byte first)."""
    if nal_unit[0] & 0x1F != NAL_PPS:
        raise H264Error("not a PPS NAL unit")
    r = BitReader(unescape(nal_unit[1:]))
    pps_id = r.ue()
    sps_id = r.ue()
    cabac = bool(r.u(1))
    bottom_field_poc = bool(r.u(1))
    num_slice_groups = r.ue() + 1
    if num_slice_groups > 1:  # slice group maps: never written by x264, not read here
        return PPS(pps_id, sps_id, cabac, bottom_field_poc, num_slice_groups, 0, False, False, False)
    l0 = r.ue() + 1
    r.ue()  # num_ref_idx_l1_default_active_minus1
    weighted_pred = bool(r.u(1))
    r.u(2)  # weighted_bipred_idc
    r.se()  # pic_init_qp_minus26
    r.se()  # pic_init_qs_minus26
    r.se()  # chroma_qp_index_offset
    deblocking = bool(r.u(1))
    r.u(1)  # constrained_intra_pred_flag
    redundant = bool(r.u(1))
    return PPS(pps_id, sps_id, cabac, bottom_field_poc, num_slice_groups, l0, weighted_pred, deblocking, redundant)


@dataclass(frozen=True)
class SliceStart:
    """The first fields of a slice header."""

    nal_type: int
    nal_ref_idc: int
    first_mb: int
    slice_type: int
    pps_id: int
    frame_num: int


def parse_slice_start(nal_unit: bytes, sps: SPS) -> SliceStart:
    nal_type = nal_unit[0] & 0x1F
    if nal_type not in (NAL_SLICE, NAL_IDR):
        raise H264Error(f"NAL type {nal_type} is not a slice")
    r = BitReader(unescape(nal_unit[1:16]))  # the fields read here fit in the first bytes
    first_mb = r.ue()
    slice_type = r.ue()
    pps_id = r.ue()
    if sps.separate_colour_plane:
        r.u(2)
    frame_num = r.u(sps.log2_max_frame_num)
    return SliceStart(nal_type, (nal_unit[0] >> 5) & 3, first_mb, slice_type, pps_id, frame_num)


@dataclass(frozen=True)
class PictureInfo:
    """What the renderer needs to know about one access unit x264 wrote."""

    idr: bool
    frame_num: int
    nal_ref_idc: int
    sps: bytes | None  # the SPS / PPS NAL units it carries, if any
    pps: bytes | None


def picture_info(access_unit: bytes, sps: SPS | None = None) -> PictureInfo:
    """Read an access unit: its parameter sets (if it carries them) and its first slice."""
    sps_nal = pps_nal = None
    for nal_type, unit in nal_units(access_unit):
        if nal_type == NAL_SPS:
            sps_nal, sps = unit, parse_sps(unit)
        elif nal_type == NAL_PPS:
            pps_nal = unit
        elif nal_type in (NAL_SLICE, NAL_IDR):
            if sps is None:
                raise H264Error("a slice before any SPS")
            s = parse_slice_start(unit, sps)
            return PictureInfo(nal_type == NAL_IDR, s.frame_num, s.nal_ref_idc, sps_nal, pps_nal)
    raise H264Error("access unit without a slice")


# ---------------------------------------------------------------- the repeat picture

def check_repeatable(sps: SPS, pps: PPS) -> None:
    """Raise unless :func:`skip_picture` can write a valid picture for this SPS/PPS."""
    problems = []
    if pps.sps_id != sps.sps_id:
        problems.append("the PPS refers to another SPS")
    if pps.entropy_coding_mode:
        problems.append("CABAC (x264 needs cabac=0)")
    if pps.num_slice_groups != 1:
        problems.append("slice groups")
    if pps.weighted_pred:
        problems.append("weighted prediction (x264 needs weightp=0)")
    if sps.pic_order_cnt_type != 2:
        problems.append(f"pic_order_cnt_type {sps.pic_order_cnt_type} (no B-frames gives 2)")
    if not sps.frame_mbs_only:
        problems.append("interlaced coding")
    if sps.separate_colour_plane:
        problems.append("separate colour planes")
    if sps.max_num_ref_frames < 1:
        problems.append("max_num_ref_frames 0 (intra-only stream; use a large keyint)")
    if problems:
        raise H264Error("cannot write repeat pictures for this stream: " + ", ".join(problems))


def skip_slice_rbsp(sps: SPS, pps: PPS, frame_num: int) -> bytes:
    """slice_layer_without_partitioning_rbsp() of a P slice covering the whole frame, every
    macroblock skipped (7.3.3 and 7.3.4, CAVLC)."""
    w = BitWriter()
    w.ue(0)  # first_mb_in_slice
    w.ue(SLICE_P)
    w.ue(pps.pps_id)
    w.u(sps.log2_max_frame_num, frame_num % sps.max_frame_num)
    # frame_mbs_only: no field_pic_flag; not IDR: no idr_pic_id; poc type 2: no POC fields
    if pps.redundant_pic_cnt_present:
        w.ue(0)  # redundant_pic_cnt
    w.u(1, 1)  # num_ref_idx_active_override_flag: one reference is all a skip needs
    w.ue(0)  # num_ref_idx_l0_active_minus1
    w.u(1, 0)  # ref_pic_list_modification_flag_l0
    w.u(1, 0)  # dec_ref_pic_marking: adaptive_ref_pic_marking_mode_flag = 0 (sliding window)
    w.se(0)  # slice_qp_delta
    if pps.deblocking_filter_control_present:
        w.ue(1)  # disable_deblocking_filter_idc: nothing to filter in a copy
    w.ue(sps.frame_mbs)  # slice_data(): mb_skip_run over the whole picture, then no more data
    w.trailing_bits()
    return w.to_bytes()


def skip_picture(sps: SPS, pps: PPS, frame_num: int, *, nal_ref_idc: int = 2, aud: bool = True) -> bytes:
    """One access unit (Annex B): an AUD (primary_pic_type 1: I or P slices) and a P slice
    that repeats the previous picture exactly. ``frame_num`` is taken modulo MaxFrameNum."""
    if not 1 <= nal_ref_idc <= 3:
        raise H264Error("repeat pictures must be reference pictures (pic_order_cnt_type 2)")
    out = b""
    if aud:
        out += nal(0, NAL_AUD, bytes([0b0011_0000]))  # primary_pic_type 1, stop bit
    return out + nal(nal_ref_idc, NAL_SLICE, skip_slice_rbsp(sps, pps, frame_num))
