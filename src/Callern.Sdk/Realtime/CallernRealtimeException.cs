namespace Callern.Sdk.Realtime;

/// <summary>A hub command was refused or could not be sent; branch on <see cref="Code"/>, never on the message.</summary>
public sealed class CallernRealtimeException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="code">The platform's stable code (<c>offer_closed</c>, <c>no_minutes</c>, …), <c>origin_not_allowed</c>, <c>not_connected</c>, or <c>unknown</c>.</param>
    /// <param name="message">What happened.</param>
    /// <param name="innerException">The SignalR client's original exception.</param>
    public CallernRealtimeException(string code, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Code = code;
    }

    /// <summary>The platform's error code (docs/realtime.md, docs/calls.md), <c>origin_not_allowed</c> when the platform refused the connection's browser origin, or <c>not_connected</c> when there was no connection.</summary>
    public string Code { get; }
}
