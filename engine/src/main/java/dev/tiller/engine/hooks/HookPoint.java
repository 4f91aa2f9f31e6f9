package dev.tiller.engine.hooks;

/** A hook site at a layer (layer is -1 for the sites outside blocks). */
public record HookPoint(HookSite site, int layer) {

    public HookPoint {
        if (site.perLayer && layer < 0) throw new IllegalArgumentException(site.suffix + " needs a layer");
        if (!site.perLayer) layer = -1;
    }

    /** The TransformerLens name, e.g. {@code blocks.3.hook_resid_post} or {@code hook_embed}. */
    public String name() {
        return site.perLayer ? "blocks." + layer + "." + site.suffix : site.suffix;
    }

    /** Parses a TransformerLens hook name; the error names the accepted forms. */
    public static HookPoint parse(String name) {
        for (HookSite s : HookSite.values()) {
            if (!s.perLayer && name.equals(s.suffix)) return new HookPoint(s, -1);
        }
        if (name.startsWith("blocks.")) {
            int dot = name.indexOf('.', 7);
            if (dot > 7) {
                String suffix = name.substring(dot + 1);
                try {
                    int layer = Integer.parseInt(name.substring(7, dot));
                    for (HookSite s : HookSite.values()) {
                        if (s.perLayer && s.suffix.equals(suffix) && layer >= 0) return new HookPoint(s, layer);
                    }
                } catch (NumberFormatException ignored) {
                    // falls through to the error below
                }
            }
        }
        throw new IllegalArgumentException("unknown hook point '" + name + "' (expected hook_embed, blocks.L.hook_resid_pre, "
                + "blocks.L.hook_attn_out, blocks.L.hook_resid_mid, blocks.L.hook_mlp_out, blocks.L.hook_resid_post, ln_final or logits)");
    }

    @Override
    public String toString() {
        return name();
    }
}
