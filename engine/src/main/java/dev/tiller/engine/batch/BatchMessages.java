package dev.tiller.engine.batch;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageLite;
import dev.tiller.engine.batch.proto.Request;
import dev.tiller.engine.batch.proto.Result;
import dev.tiller.engine.batch.proto.Thinking;
import dev.tiller.engine.chat.ChatMessage;
import dev.tiller.engine.thinking.ThinkingControl;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.function.Consumer;

/**
 * The batch records as the Protobuf messages protoc generates from {@code src/main/proto/tiller_batch.proto}, in the
 * length-delimited framing of {@code writeDelimitedTo} / {@code parseDelimitedFrom}. Records are framed here (rather
 * than with {@code parseDelimitedFrom}) so that a damaged message is told apart from a file cut short: the first is
 * skipped and the job goes on, the second ends the file.
 */
public final class BatchMessages {

    public static Request toMessage(BatchRequest r) {
        Request.Builder b = Request.newBuilder();
        if (r.id() != null) b.setId(r.id());
        if (r.prompt() != null) b.setPrompt(r.prompt());
        if (r.messages() != null) {
            for (ChatMessage m : r.messages()) {
                dev.tiller.engine.batch.proto.ChatMessage.Builder mb = dev.tiller.engine.batch.proto.ChatMessage.newBuilder();
                if (m.role() != null) mb.setRole(m.role());
                if (m.content() != null) mb.setContent(m.content());
                b.addMessages(mb);
            }
        }
        if (r.maxTokens() != null) b.setMaxTokens(r.maxTokens());
        if (r.temperature() != null) b.setTemperature(r.temperature());
        if (r.topP() != null) b.setTopP(r.topP());
        if (r.topK() != null) b.setTopK(r.topK());
        if (r.seed() != null) b.setSeed(r.seed());
        b.addAllStop(r.stop()).addAllSteer(r.steer());
        if (r.minP() != null) b.setMinP(r.minP());
        ThinkingControl t = r.thinking();
        if (t != null) {
            Thinking.Builder tb = Thinking.newBuilder();
            if (t.endScale() != null) tb.setEndScale(t.endScale());
            if (t.budget() != null) tb.setBudget(t.budget());
            if (t.minTokens() != null) tb.setMin(t.minTokens());
            if (t.waitText() != null) tb.setWait(t.waitText());
            if (t.open() != null) tb.setOpen(t.open());
            b.setThinking(tb);
        }
        return b.build();
    }

    /**
     * Decodes record number {@code record}; unknown fields are ignored and named in {@code warnings}.
     *
     * @throws IllegalArgumentException when the bytes are not a Request or a field's value is out of range
     */
    public static BatchRequest request(byte[] data, long record, Consumer<String> warnings) {
        Request m;
        try {
            m = Request.parseFrom(data);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalArgumentException("record " + record + ": not a valid Request message (" + e.getMessage() + ")");
        }
        for (int field : m.getUnknownFields().asMap().keySet()) {
            warnings.accept("record " + record + ": unknown field number " + field + " ignored");
        }
        List<ChatMessage> messages = m.getMessagesCount() == 0 ? null
                : m.getMessagesList().stream().map(c -> new ChatMessage(c.getRole(), c.getContent())).toList();
        ThinkingControl thinking = null;
        if (m.hasThinking()) {
            Thinking t = m.getThinking();
            thinking = new ThinkingControl(t.hasEndScale() ? t.getEndScale() : null, t.hasBudget() ? t.getBudget() : null,
                    t.hasMin() ? t.getMin() : null, t.hasWait() ? t.getWait() : null, t.hasOpen() ? t.getOpen() : null);
        }
        return new BatchRequest(m.getId(), m.hasPrompt() ? m.getPrompt() : null, messages,
                m.hasMaxTokens() ? m.getMaxTokens() : null, m.hasTemperature() ? m.getTemperature() : null,
                m.hasTopP() ? m.getTopP() : null, m.hasTopK() ? m.getTopK() : null, m.hasMinP() ? m.getMinP() : null,
                m.hasSeed() ? m.getSeed() : null, m.getStopList(), m.getSteerList(), thinking, record);
    }

    public static Result toMessage(BatchResult r) {
        Result.Builder b = Result.newBuilder()
                .setPromptTokens(r.promptTokens()).setCompletionTokens(r.completionTokens()).setThinkingTokens(r.thinkingTokens())
                .setFirstTokenMs(r.firstTokenMs()).setTotalMs(r.totalMs());
        if (r.id() != null) b.setId(r.id());
        if (r.text() != null) b.setText(r.text());
        if (r.finishReason() != null) b.setFinishReason(r.finishReason());
        for (int t : r.tokens()) b.addTokens(t);
        if (r.error() != null) b.setError(r.error());
        return b.build();
    }

    /** @throws IllegalArgumentException when the bytes are not a Result */
    public static BatchResult result(byte[] data) {
        Result m;
        try {
            m = Result.parseFrom(data);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalArgumentException("not a valid Result message (" + e.getMessage() + ")");
        }
        int[] tokens = m.getTokensList().stream().mapToInt(Integer::intValue).toArray();
        return new BatchResult(m.getId(), m.getText(), tokens, m.getFinishReason(), m.getPromptTokens(), m.getCompletionTokens(),
                m.getThinkingTokens(), m.getFirstTokenMs(), m.getTotalMs(), m.hasError() ? m.getError() : null);
    }

    /** The length prefix and the message in one array, so that one write call appends the whole record. */
    public static byte[] delimited(MessageLite m) {
        ByteArrayOutputStream b = new ByteArrayOutputStream(m.getSerializedSize() + 5);
        writeDelimited(b, m);
        return b.toByteArray();
    }

    public static void writeDelimited(OutputStream out, MessageLite m) {
        try {
            m.writeDelimitedTo(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The bytes of the next record: null at a clean end of the stream.
     *
     * @throws EOFException when the stream ends inside a record (a truncated last record)
     * @throws InvalidProtocolBufferException when the length prefix is not a valid size
     */
    public static byte[] readDelimited(InputStream in) throws IOException {
        int first = in.read();
        if (first < 0) return null;
        int size = CodedInputStream.readRawVarint32(first, in);
        if (size < 0) throw new InvalidProtocolBufferException("negative record size " + size);
        byte[] b = in.readNBytes(size);
        if (b.length < size) throw new EOFException("record truncated: " + b.length + " of " + size + " bytes");
        return b;
    }

    private BatchMessages() {}
}
