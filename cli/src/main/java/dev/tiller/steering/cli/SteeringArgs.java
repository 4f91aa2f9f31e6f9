package dev.tiller.steering.cli;

import dev.tiller.engine.hooks.HookSite;

/** Parsing shared by the steering commands; errors name the flag. */
final class SteeringArgs {

    /** {@code hook_resid_post}, {@code resid_post} or {@code blocks.L.hook_resid_post}'s suffix: a per-block site. */
    static HookSite site(String s) {
        String suffix = s.startsWith("hook_") ? s : "hook_" + s;
        for (HookSite h : HookSite.values()) if (h.perLayer && h.suffix.equals(suffix)) return h;
        throw new IllegalArgumentException("--site '" + s + "': expected one of hook_resid_pre, hook_attn_out, hook_resid_mid, hook_mlp_out, hook_resid_post");
    }

    /** {@code A-B} or {@code A}: inclusive block range, checked against the model. */
    static int[] layers(String s, int modelLayers) {
        String[] p = s.split("-");
        try {
            int a = Integer.parseInt(p[0].trim()), b = p.length > 1 ? Integer.parseInt(p[1].trim()) : a;
            if (p.length > 2 || a < 0 || b < a) throw new NumberFormatException();
            if (b >= modelLayers) throw new IllegalArgumentException("--layers " + s + ": the model has blocks 0.." + (modelLayers - 1));
            return new int[]{a, b};
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--layers '" + s + "': expected A-B (inclusive block indices) or A");
        }
    }

    private SteeringArgs() {}
}
