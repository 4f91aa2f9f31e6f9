package dev.tiller.spark;

import dev.tiller.engine.batch.BatchRequest;
import dev.tiller.engine.chat.ChatMessage;
import dev.tiller.engine.thinking.ThinkingControl;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

/** A batch request as a Spark bean: the fields of {@code tiller_batch.proto}'s Request (thinking flattened). */
public class SparkRequest implements Serializable {
    private String id;
    private String prompt;
    private List<SparkMessage> messages;
    private Integer maxTokens;
    private Float temperature;
    private Float topP;
    private Integer topK;
    private Float minP;
    private Long seed;
    private List<String> stop;
    private List<String> steer;
    private Double thinkEndScale;
    private Integer thinkBudget;
    private Integer thinkMin;
    private String thinkWait;
    private Boolean thinkOpen;

    public SparkRequest() {}

    public static SparkRequest of(BatchRequest r) {
        SparkRequest s = new SparkRequest();
        s.id = r.id();
        s.prompt = r.prompt();
        if (r.messages() != null) {
            s.messages = new ArrayList<>();
            for (ChatMessage m : r.messages()) s.messages.add(new SparkMessage(m.role(), m.content()));
        }
        s.maxTokens = r.maxTokens();
        s.temperature = r.temperature();
        s.topP = r.topP();
        s.topK = r.topK();
        s.minP = r.minP();
        s.seed = r.seed();
        s.stop = new ArrayList<>(r.stop());
        s.steer = new ArrayList<>(r.steer());
        if (r.thinking() != null) {
            s.thinkEndScale = r.thinking().endScale();
            s.thinkBudget = r.thinking().budget();
            s.thinkMin = r.thinking().minTokens();
            s.thinkWait = r.thinking().waitText();
            s.thinkOpen = r.thinking().open();
        }
        return s;
    }

    public BatchRequest toRequest() {
        List<ChatMessage> msgs = null;
        if (messages != null) {
            msgs = new ArrayList<>();
            for (SparkMessage m : messages) msgs.add(new ChatMessage(m.getRole(), m.getContent() == null ? "" : m.getContent()));
        }
        ThinkingControl t = thinkEndScale == null && thinkBudget == null && thinkMin == null && thinkWait == null && thinkOpen == null
                ? null : new ThinkingControl(thinkEndScale, thinkBudget, thinkMin, thinkWait, thinkOpen);
        return new BatchRequest(id, prompt, msgs, maxTokens, temperature, topP, topK, minP, seed, stop, steer, t, 0);
    }

    public String getId() { return id; }
    public void setId(String v) { id = v; }
    public String getPrompt() { return prompt; }
    public void setPrompt(String v) { prompt = v; }
    public List<SparkMessage> getMessages() { return messages; }
    public void setMessages(List<SparkMessage> v) { messages = v; }
    public Integer getMaxTokens() { return maxTokens; }
    public void setMaxTokens(Integer v) { maxTokens = v; }
    public Float getTemperature() { return temperature; }
    public void setTemperature(Float v) { temperature = v; }
    public Float getTopP() { return topP; }
    public void setTopP(Float v) { topP = v; }
    public Integer getTopK() { return topK; }
    public void setTopK(Integer v) { topK = v; }
    public Float getMinP() { return minP; }
    public void setMinP(Float v) { minP = v; }
    public Long getSeed() { return seed; }
    public void setSeed(Long v) { seed = v; }
    public List<String> getStop() { return stop; }
    public void setStop(List<String> v) { stop = v; }
    public List<String> getSteer() { return steer; }
    public void setSteer(List<String> v) { steer = v; }
    public Double getThinkEndScale() { return thinkEndScale; }
    public void setThinkEndScale(Double v) { thinkEndScale = v; }
    public Integer getThinkBudget() { return thinkBudget; }
    public void setThinkBudget(Integer v) { thinkBudget = v; }
    public Integer getThinkMin() { return thinkMin; }
    public void setThinkMin(Integer v) { thinkMin = v; }
    public String getThinkWait() { return thinkWait; }
    public void setThinkWait(String v) { thinkWait = v; }
    public Boolean getThinkOpen() { return thinkOpen; }
    public void setThinkOpen(Boolean v) { thinkOpen = v; }
}
