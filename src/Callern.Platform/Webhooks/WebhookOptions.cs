namespace Callern.Platform.Webhooks;

/// <summary>Webhook delivery and the event log (<c>Callern:Webhooks</c>; docs/configuration.md).</summary>
public sealed class WebhookOptions
{
    /// <summary>Receivers on loopback or private addresses, and plain http; unset means only in Development.</summary>
    public bool? AllowLocalReceivers { get; set; }

    /// <summary>How long events are kept and listed by <c>GET /v1/events</c>.</summary>
    public int RetentionDays { get; set; } = 30;

    /// <summary>How long a delivery is retried before it fails and its endpoint is disabled.</summary>
    public int RetryHours { get; set; } = 72;

    /// <summary>How long one delivery attempt may take, connection included.</summary>
    public int AttemptTimeoutSeconds { get; set; } = 10;

    /// <summary>Deliveries sent at once by one node.</summary>
    public int Concurrency { get; set; } = 16;
}
