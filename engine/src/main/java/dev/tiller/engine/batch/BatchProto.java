package dev.tiller.engine.batch;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.WireFormat;
import dev.tiller.engine.chat.ChatMessage;
import dev.tiller.engine.thinking.ThinkingControl;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Hand-written Protobuf codec of {@code src/main/proto/tiller_batch.proto} (Request, Result), in the length-delimited
 * framing of {@code writeDelimitedTo} / {@code parseDelimitedFrom}: a varint byte count, then the message.
 */
public final class BatchProto {

    // ---- Request ----

    public static byte[] encode(BatchRequest r) {
        return bytes(out -> {
            writeString(out, 1, r.id());
            if (r.prompt() != null) writeString(out, 2, r.prompt());
            if (r.messages() != null) {
                for (ChatMessage m : r.messages()) {
                    byte[] b = bytes(o -> {
                        writeString(o, 1, m.role());
                        writeString(o, 2, m.content());
                    });
                    out.writeByteArray(3, b);
                }
            }
            if (r.maxTokens() != null) out.writeInt32(4, r.maxTokens());
            if (r.temperature() != null) out.writeFloat(5, r.temperature());
            if (r.topP() != null) out.writeFloat(6, r.topP());
            if (r.topK() != null) out.writeInt32(7, r.topK());
            if (r.seed() != null) out.writeInt64(8, r.seed());
            for (String s : r.stop()) out.writeString(9, s);
            for (String s : r.steer()) out.writeString(10, s);
            if (r.minP() != null) out.writeFloat(11, r.minP());
            ThinkingControl t = r.thinking();
            if (t != null) {
                out.writeByteArray(12, bytes(o -> {
                    if (t.endScale() != null) o.writeDouble(1, t.endScale());
                    if (t.budget() != null) o.writeInt32(2, t.budget());
                    if (t.minTokens() != null) o.writeInt32(3, t.minTokens());
                    if (t.waitText() != null) o.writeString(4, t.waitText());
                    if (t.open() != null) o.writeBool(5, t.open());
                }));
            }
        });
    }

    /** Decodes a Request; unknown fields are skipped and named in {@code warnings}. */
    public static BatchRequest decodeRequest(byte[] data, long record, Consumer<String> warnings) {
        try {
            CodedInputStream in = CodedInputStream.newInstance(data);
            String id = "", prompt = null;
            List<ChatMessage> messages = null;
            Integer maxTokens = null, topK = null;
            Float temperature = null, topP = null, minP = null;
            Long seed = null;
            List<String> stop = new ArrayList<>(), steer = new ArrayList<>();
            ThinkingControl thinking = null;
            int tag;
            while ((tag = in.readTag()) != 0) {
                switch (WireFormat.getTagFieldNumber(tag)) {
                    case 1 -> id = in.readString();
                    case 2 -> prompt = in.readString();
                    case 3 -> {
                        if (messages == null) messages = new ArrayList<>();
                        messages.add(decodeMessage(in.readByteArray()));
                    }
                    case 4 -> maxTokens = in.readInt32();
                    case 5 -> temperature = in.readFloat();
                    case 6 -> topP = in.readFloat();
                    case 7 -> topK = in.readInt32();
                    case 8 -> seed = in.readInt64();
                    case 9 -> stop.add(in.readString());
                    case 10 -> steer.add(in.readString());
                    case 11 -> minP = in.readFloat();
                    case 12 -> thinking = decodeThinking(in.readByteArray());
                    default -> {
                        warnings.accept("record " + record + ": unknown field number " + WireFormat.getTagFieldNumber(tag) + " ignored");
                        in.skipField(tag);
                    }
                }
            }
            return new BatchRequest(id, prompt, messages, maxTokens, temperature, topP, topK, minP, seed, stop, steer, thinking, record);
        } catch (IOException e) {
            throw new IllegalArgumentException("record " + record + ": not a valid Request message (" + e.getMessage() + ")");
        }
    }

    private static ChatMessage decodeMessage(byte[] data) throws IOException {
        CodedInputStream in = CodedInputStream.newInstance(data);
        String role = "", content = "";
        int tag;
        while ((tag = in.readTag()) != 0) {
            switch (WireFormat.getTagFieldNumber(tag)) {
                case 1 -> role = in.readString();
                case 2 -> content = in.readString();
                default -> in.skipField(tag);
            }
        }
        return new ChatMessage(role, content);
    }

    private static ThinkingControl decodeThinking(byte[] data) throws IOException {
        CodedInputStream in = CodedInputStream.newInstance(data);
        Double endScale = null;
        Integer budget = null, min = null;
        String wait = null;
        Boolean open = null;
        int tag;
        while ((tag = in.readTag()) != 0) {
            switch (WireFormat.getTagFieldNumber(tag)) {
                case 1 -> endScale = in.readDouble();
                case 2 -> budget = in.readInt32();
                case 3 -> min = in.readInt32();
                case 4 -> wait = in.readString();
                case 5 -> open = in.readBool();
                default -> in.skipField(tag);
            }
        }
        return new ThinkingControl(endScale, budget, min, wait, open);
    }

    // ---- Result ----

    public static byte[] encode(BatchResult r) {
        return bytes(out -> {
            writeString(out, 1, r.id());
            writeString(out, 2, r.text());
            if (r.tokens().length > 0) {
                int size = 0;
                for (int t : r.tokens()) size += CodedOutputStream.computeInt32SizeNoTag(t);
                out.writeTag(3, WireFormat.WIRETYPE_LENGTH_DELIMITED);
                out.writeUInt32NoTag(size);
                for (int t : r.tokens()) out.writeInt32NoTag(t);
            }
            writeString(out, 4, r.finishReason());
            if (r.promptTokens() != 0) out.writeInt32(5, r.promptTokens());
            if (r.completionTokens() != 0) out.writeInt32(6, r.completionTokens());
            if (r.thinkingTokens() != 0) out.writeInt32(7, r.thinkingTokens());
            if (r.firstTokenMs() != 0) out.writeDouble(8, r.firstTokenMs());
            if (r.totalMs() != 0) out.writeDouble(9, r.totalMs());
            if (r.error() != null) out.writeString(10, r.error());
        });
    }

    public static BatchResult decodeResult(byte[] data) {
        try {
            CodedInputStream in = CodedInputStream.newInstance(data);
            String id = "", text = "", finish = "", error = null;
            int[] tokens = new int[16];
            int n = 0, prompt = 0, completion = 0, thinking = 0;
            double first = 0, total = 0;
            int tag;
            while ((tag = in.readTag()) != 0) {
                switch (WireFormat.getTagFieldNumber(tag)) {
                    case 1 -> id = in.readString();
                    case 2 -> text = in.readString();
                    case 3 -> {
                        if (WireFormat.getTagWireType(tag) == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
                            int limit = in.pushLimit(in.readRawVarint32());
                            while (in.getBytesUntilLimit() > 0) {
                                if (n == tokens.length) tokens = java.util.Arrays.copyOf(tokens, n * 2);
                                tokens[n++] = in.readInt32();
                            }
                            in.popLimit(limit);
                        } else {
                            if (n == tokens.length) tokens = java.util.Arrays.copyOf(tokens, n * 2);
                            tokens[n++] = in.readInt32();
                        }
                    }
                    case 4 -> finish = in.readString();
                    case 5 -> prompt = in.readInt32();
                    case 6 -> completion = in.readInt32();
                    case 7 -> thinking = in.readInt32();
                    case 8 -> first = in.readDouble();
                    case 9 -> total = in.readDouble();
                    case 10 -> error = in.readString();
                    default -> in.skipField(tag);
                }
            }
            return new BatchResult(id, text, java.util.Arrays.copyOf(tokens, n), finish, prompt, completion, thinking, first, total, error);
        } catch (IOException e) {
            throw new IllegalArgumentException("not a valid Result message (" + e.getMessage() + ")");
        }
    }

    // ---- framing ----

    /** Writes a varint length and the message, as {@code writeDelimitedTo}. */
    public static void writeDelimited(OutputStream out, byte[] message) throws IOException {
        out.write(delimited(message));
    }

    /** The length prefix and the message in one array (so that one write call appends the whole record). */
    public static byte[] delimited(byte[] message) {
        int prefix = CodedOutputStream.computeUInt32SizeNoTag(message.length);
        byte[] b = new byte[prefix + message.length];
        try {
            CodedOutputStream o = CodedOutputStream.newInstance(b);
            o.writeUInt32NoTag(message.length);
            o.writeRawBytes(message);
            o.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return b;
    }

    /**
     * Reads one delimited message, as {@code parseDelimitedFrom}: null at a clean end of stream.
     *
     * @throws java.io.EOFException when the stream ends inside a record (a truncated last record)
     */
    public static byte[] readDelimited(InputStream in) throws IOException {
        int first = in.read();
        if (first < 0) return null;
        int size = CodedInputStream.readRawVarint32(first, in);
        // a corrupt length is a malformed record (reported, the rest skipped), not an I/O failure that stops the job
        if (size < 0) throw new com.google.protobuf.InvalidProtocolBufferException("negative record size " + size);
        byte[] b = in.readNBytes(size);
        if (b.length < size) throw new java.io.EOFException("record truncated: " + b.length + " of " + size + " bytes");
        return b;
    }

    private interface Writer {
        void write(CodedOutputStream out) throws IOException;
    }

    private static byte[] bytes(Writer w) {
        try {
            ByteArrayOutputStream bos = new ByteArrayOutputStream();
            CodedOutputStream out = CodedOutputStream.newInstance(bos);
            w.write(out);
            out.flush();
            return bos.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void writeString(CodedOutputStream out, int field, String s) throws IOException {
        if (s != null && !s.isEmpty()) out.writeString(field, s);
    }

    private BatchProto() {}
}
