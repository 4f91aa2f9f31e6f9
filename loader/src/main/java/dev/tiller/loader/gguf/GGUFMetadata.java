package dev.tiller.loader.gguf;

import dev.tiller.loader.ModelFormatException;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/** The key/value metadata of a GGUF file, in file order, with typed getters that name the key on error. */
public final class GGUFMetadata {
    private final Map<String, GGUFValue> values;
    private final String source;

    public GGUFMetadata(Map<String, GGUFValue> values, String source) {
        this.values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
        this.source = source;
    }

    public Map<String, GGUFValue> asMap() {
        return values;
    }

    public boolean has(String key) {
        return values.containsKey(key);
    }

    public GGUFValue get(String key) {
        return values.get(key);
    }

    private GGUFValue require(String key) {
        GGUFValue v = values.get(key);
        if (v == null) throw new ModelFormatException(source + ": missing metadata key '" + key + "'");
        return v;
    }

    private ModelFormatException wrongType(String key, GGUFValue v, String wanted) {
        return new ModelFormatException(source + ": metadata key '" + key + "' is " + v.type()
                + (v.elementType() != null ? " of " + v.elementType() : "") + ", expected " + wanted);
    }

    public String getString(String key) {
        GGUFValue v = require(key);
        if (v.type() != GGUFValueType.STRING) throw wrongType(key, v, "STRING");
        return (String) v.value();
    }

    public String getString(String key, String fallback) {
        return has(key) ? getString(key) : fallback;
    }

    public long getLong(String key) {
        GGUFValue v = require(key);
        if (!v.isInteger()) throw wrongType(key, v, "an integer");
        return v.asLong();
    }

    public long getLong(String key, long fallback) {
        return has(key) ? getLong(key) : fallback;
    }

    /** An integer value that must fit in an int and lie in [min, max]. */
    public int getInt(String key, int min, int max) {
        long v = getLong(key);
        if (v < min || v > max) {
            throw new ModelFormatException(source + ": metadata key '" + key + "' = " + v + " is outside [" + min + ", " + max + "]");
        }
        return (int) v;
    }

    public int getInt(String key, int min, int max, int fallback) {
        return has(key) ? getInt(key, min, max) : fallback;
    }

    public double getDouble(String key) {
        GGUFValue v = require(key);
        if (!v.isInteger() && v.type() != GGUFValueType.FLOAT32 && v.type() != GGUFValueType.FLOAT64) {
            throw wrongType(key, v, "a number");
        }
        return v.asDouble();
    }

    public double getDouble(String key, double fallback) {
        return has(key) ? getDouble(key) : fallback;
    }

    public boolean getBoolean(String key, boolean fallback) {
        if (!has(key)) return fallback;
        GGUFValue v = require(key);
        if (v.type() != GGUFValueType.BOOL) throw wrongType(key, v, "BOOL");
        return (Boolean) v.value();
    }

    public String[] getStringArray(String key) {
        GGUFValue v = require(key);
        if (v.type() != GGUFValueType.ARRAY || v.elementType() != GGUFValueType.STRING) throw wrongType(key, v, "ARRAY of STRING");
        return (String[]) v.value();
    }

    public float[] getFloatArray(String key) {
        GGUFValue v = require(key);
        if (v.type() != GGUFValueType.ARRAY) throw wrongType(key, v, "ARRAY of FLOAT32");
        if (v.elementType() == GGUFValueType.FLOAT32) return (float[]) v.value();
        if (v.elementType() == GGUFValueType.FLOAT64) {
            double[] d = (double[]) v.value();
            float[] f = new float[d.length];
            for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
            return f;
        }
        throw wrongType(key, v, "ARRAY of FLOAT32");
    }

    /** An array of any integer type, widened to int (unsigned 32-bit values must fit). */
    public int[] getIntArray(String key) {
        GGUFValue v = require(key);
        if (v.type() != GGUFValueType.ARRAY) throw wrongType(key, v, "ARRAY of integers");
        Object a = v.value();
        return switch (v.elementType()) {
            case INT32, UINT32 -> (int[]) a;
            case INT8 -> { byte[] b = (byte[]) a; int[] r = new int[b.length]; for (int i = 0; i < b.length; i++) r[i] = b[i]; yield r; }
            case UINT8 -> { byte[] b = (byte[]) a; int[] r = new int[b.length]; for (int i = 0; i < b.length; i++) r[i] = b[i] & 0xFF; yield r; }
            case INT16 -> { short[] b = (short[]) a; int[] r = new int[b.length]; for (int i = 0; i < b.length; i++) r[i] = b[i]; yield r; }
            case UINT16 -> { short[] b = (short[]) a; int[] r = new int[b.length]; for (int i = 0; i < b.length; i++) r[i] = b[i] & 0xFFFF; yield r; }
            case INT64, UINT64 -> { long[] b = (long[]) a; int[] r = new int[b.length]; for (int i = 0; i < b.length; i++) r[i] = Math.toIntExact(b[i]); yield r; }
            default -> throw wrongType(key, v, "ARRAY of integers");
        };
    }

    public String source() {
        return source;
    }
}
