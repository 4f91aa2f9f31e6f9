package dev.tiller.spark;

import dev.tiller.engine.batch.BatchResult;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

/** A batch result as a Spark bean: the fields of {@code tiller_batch.proto}'s Result. */
public class SparkResult implements Serializable {
    private String id;
    private String text;
    private List<Integer> tokens;
    private String finishReason;
    private int promptTokens;
    private int completionTokens;
    private int thinkingTokens;
    private double firstTokenMs;
    private double totalMs;
    private String error;

    public SparkResult() {}

    public static SparkResult of(BatchResult r) {
        SparkResult s = new SparkResult();
        s.id = r.id();
        s.text = r.text();
        s.tokens = new ArrayList<>(r.tokens().length);
        for (int t : r.tokens()) s.tokens.add(t);
        s.finishReason = r.finishReason();
        s.promptTokens = r.promptTokens();
        s.completionTokens = r.completionTokens();
        s.thinkingTokens = r.thinkingTokens();
        s.firstTokenMs = r.firstTokenMs();
        s.totalMs = r.totalMs();
        s.error = r.error();
        return s;
    }

    public BatchResult toResult() {
        int[] t = new int[tokens == null ? 0 : tokens.size()];
        for (int i = 0; i < t.length; i++) t[i] = tokens.get(i);
        return new BatchResult(id, text, t, finishReason, promptTokens, completionTokens, thinkingTokens, firstTokenMs, totalMs, error);
    }

    public String getId() { return id; }
    public void setId(String v) { id = v; }
    public String getText() { return text; }
    public void setText(String v) { text = v; }
    public List<Integer> getTokens() { return tokens; }
    public void setTokens(List<Integer> v) { tokens = v; }
    public String getFinishReason() { return finishReason; }
    public void setFinishReason(String v) { finishReason = v; }
    public int getPromptTokens() { return promptTokens; }
    public void setPromptTokens(int v) { promptTokens = v; }
    public int getCompletionTokens() { return completionTokens; }
    public void setCompletionTokens(int v) { completionTokens = v; }
    public int getThinkingTokens() { return thinkingTokens; }
    public void setThinkingTokens(int v) { thinkingTokens = v; }
    public double getFirstTokenMs() { return firstTokenMs; }
    public void setFirstTokenMs(double v) { firstTokenMs = v; }
    public double getTotalMs() { return totalMs; }
    public void setTotalMs(double v) { totalMs = v; }
    public String getError() { return error; }
    public void setError(String v) { error = v; }
}
