/**
 * OPC UA values to and from the store's one number per sample. Tags are scalars (speeds,
 * temperatures, counters, states) or, for waveform tags, one-dimensional numeric arrays;
 * anything else is kept as a Bad sample, never guessed at.
 */
import { DataType, Variant, VariantArrayType, type Variant as VariantType } from "node-opcua-client";
import { LinepilotError } from "../../common/errors.js";

/** OPC UA BadTypeMismatch: the node holds something that is not one number. */
export const BAD_TYPE_MISMATCH = 0x80740000;

const TWO_32 = 4_294_967_296;

/** The sample value of a variant, or NaN when it is not a scalar number or boolean. */
export function sampleValue(variant: VariantType | null | undefined): number {
  if (variant == null || variant.arrayType !== VariantArrayType.Scalar) return Number.NaN;
  const v: unknown = variant.value;
  switch (variant.dataType) {
    case DataType.Boolean:
      return v ? 1 : 0;
    case DataType.SByte:
    case DataType.Byte:
    case DataType.Int16:
    case DataType.UInt16:
    case DataType.Int32:
    case DataType.UInt32:
    case DataType.Float:
    case DataType.Double:
      return typeof v === "number" ? v : Number.NaN;
    case DataType.Int64:
    case DataType.UInt64:
      // node-opcua carries 64-bit integers as [high, low] 32-bit words.
      return Array.isArray(v) && v.length === 2 ? (v[0] as number) * TWO_32 + (v[1] as number) : Number.NaN;
    default:
      return Number.NaN;
  }
}

const INTEGER_RANGE: Partial<Record<DataType, [number, number]>> = {
  [DataType.SByte]: [-128, 127],
  [DataType.Byte]: [0, 255],
  [DataType.Int16]: [-32_768, 32_767],
  [DataType.UInt16]: [0, 65_535],
  [DataType.Int32]: [-2_147_483_648, 2_147_483_647],
  [DataType.UInt32]: [0, 4_294_967_295],
  [DataType.Int64]: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  [DataType.UInt64]: [0, Number.MAX_SAFE_INTEGER],
};

/**
 * The variant to write `raw` into a node whose current value has `dataType`: the write keeps the
 * node's own type (a PLC refuses a Double written into an Int16 with BadTypeMismatch).
 */
export function variantFor(
  tag: string,
  dataType: DataType,
  raw: number,
): { variant: VariantType; written: number } {
  if (dataType === DataType.Boolean)
    return { variant: new Variant({ dataType, value: raw !== 0 }), written: raw !== 0 ? 1 : 0 };
  if (dataType === DataType.Float || dataType === DataType.Double)
    return { variant: new Variant({ dataType, value: raw }), written: raw };
  const range = INTEGER_RANGE[dataType];
  if (range === undefined)
    throw new LinepilotError(
      "LP_ERR_CONNECTOR",
      `tag ${tag}: the node holds a ${DataType[dataType]}, which is not a number linepilot can write`,
    );
  const rounded = Math.round(raw);
  if (rounded < range[0] || rounded > range[1])
    throw new LinepilotError(
      "LP_ERR_CONNECTOR",
      `tag ${tag}: ${rounded} does not fit the node's ${DataType[dataType]} (${range[0]}..${range[1]})`,
    );
  const value =
    dataType === DataType.Int64 || dataType === DataType.UInt64
      ? [Math.floor(rounded / TWO_32), rounded - Math.floor(rounded / TWO_32) * TWO_32]
      : rounded;
  return { variant: new Variant({ dataType, value }), written: rounded };
}

/**
 * Copies a waveform array variant into `out` (engineering units: raw * scale + offset). Returns
 * the OPC UA status of the block: Good, BadTypeMismatch when the node holds no numeric array of at
 * least `out.length` values, BadSensorFailure when a value is NaN.
 */
export function blockValue(
  variant: VariantType | null | undefined,
  out: Float64Array,
  scale: number,
  offset: number,
): number {
  if (variant == null || variant.arrayType !== VariantArrayType.Array) return BAD_TYPE_MISMATCH;
  const v = variant.value as ArrayLike<unknown> | null;
  if (v == null || v.length < out.length || typeof v[0] !== "number") return BAD_TYPE_MISMATCH;
  const values = v as ArrayLike<number>;
  for (let i = 0; i < out.length; i++) {
    const x = values[i]!;
    if (Number.isNaN(x)) return BAD_SENSOR_FAILURE;
    out[i] = x * scale + offset;
  }
  return 0;
}

const BAD_SENSOR_FAILURE = 0x808d0000;
