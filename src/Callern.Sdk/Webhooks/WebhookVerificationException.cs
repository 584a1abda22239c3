namespace Callern.Sdk.Webhooks;

/// <summary>
/// A webhook request that must not be trusted or could not be read; answer it with <c>400</c>.
/// Branch on <see cref="Code"/>, never on the message.
/// </summary>
public sealed class WebhookVerificationException : Exception
{
    /// <summary>A <c>webhook-id</c>, <c>webhook-timestamp</c> or <c>webhook-signature</c> header is missing or empty.</summary>
    public const string MissingHeader = "missing_header";
    /// <summary>The <c>webhook-timestamp</c> header is not a whole number of unix seconds.</summary>
    public const string InvalidTimestamp = "invalid_timestamp";
    /// <summary>The request was signed longer ago than the tolerance allows: a replay, or a delivery held up too long.</summary>
    public const string TimestampTooOld = "timestamp_too_old";
    /// <summary>The request claims to be signed later than now plus the tolerance: a forged timestamp or a clock far off.</summary>
    public const string TimestampInFuture = "timestamp_in_future";
    /// <summary>No <c>v1</c> signature in the header matches the request under any of the secrets.</summary>
    public const string InvalidSignature = "invalid_signature";
    /// <summary>The signature is valid but the body is not an event envelope.</summary>
    public const string InvalidBody = "invalid_body";

    /// <summary>Creates the exception.</summary>
    /// <param name="code">One of this class's constants (<c>missing_header</c>, <c>invalid_signature</c>, …).</param>
    /// <param name="message">What was wrong with the request.</param>
    /// <param name="innerException">The JSON reader's exception for <c>invalid_body</c>, when there is one.</param>
    public WebhookVerificationException(string code, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Code = code;
    }

    /// <summary>
    /// Why the request was refused: <c>missing_header</c>, <c>invalid_timestamp</c>,
    /// <c>timestamp_too_old</c>, <c>timestamp_in_future</c>, <c>invalid_signature</c> or <c>invalid_body</c>.
    /// </summary>
    public string Code { get; }
}
