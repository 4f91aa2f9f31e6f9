package dev.tiller.spark;

import java.io.Serializable;

/** A chat message as a Spark bean (struct {role, content}). */
public class SparkMessage implements Serializable {
    private String role;
    private String content;

    public SparkMessage() {}

    public SparkMessage(String role, String content) {
        this.role = role;
        this.content = content;
    }

    public String getRole() { return role; }
    public void setRole(String role) { this.role = role; }
    public String getContent() { return content; }
    public void setContent(String content) { this.content = content; }
}
