package dev.tiller.steering.extract;

/** How contrastive activations become one direction per layer. */
public enum ExtractionMethod {
    /** Mean of the positive − negative differences (CAA). */
    MEAN,
    /** First principal component of the differences (centered), scaled to their mean projection. */
    PCA_DIFF,
    /** First principal component of the activations centered on each pair's mean, scaled to the mean difference's projection. */
    PCA_CENTER;

    public static ExtractionMethod parse(String s) {
        return switch (s.toLowerCase(java.util.Locale.ROOT).replace('-', '_')) {
            case "mean" -> MEAN;
            case "pca_diff", "pca" -> PCA_DIFF;
            case "pca_center" -> PCA_CENTER;
            default -> throw new IllegalArgumentException("--method '" + s + "': expected mean, pca_diff or pca_center");
        };
    }

    public String cliName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
