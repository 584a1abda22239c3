using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;

namespace Callern.Platform.Signaling;

/// <summary>
/// An invocation whose arguments SignalR could not bind to the method's parameters (a wrong JSON
/// type, a malformed id, a missing or extra argument). SignalR itself would answer it with an uncoded
/// "Failed to invoke … due to an error on the server"; <see cref="Protocol"/> hands it on as an
/// invocation with this one argument instead, and <see cref="HubArgumentFilter"/> answers
/// <c>invalid_argument</c> before the method runs.
/// </summary>
public sealed class UnboundArguments
{
    public const string Refusal = "The arguments do not match the method's parameters (their number, or a value's JSON type or format).";

    private UnboundArguments()
    {
    }

    /// <summary>A hub protocol (JSON or MessagePack) with binding failures turned into invocations carrying <see cref="UnboundArguments"/>.</summary>
    public sealed class Protocol(IHubProtocol inner) : IHubProtocol
    {
        public string Name => inner.Name;

        public int Version => inner.Version;

        public TransferFormat TransferFormat => inner.TransferFormat;

        public bool IsVersionSupported(int version) => inner.IsVersionSupported(version);

        public bool TryParseMessage(ref ReadOnlySequence<byte> input, IInvocationBinder binder, [NotNullWhen(true)] out HubMessage? message)
        {
            if (!inner.TryParseMessage(ref input, binder, out message))
            {
                return false;
            }
            if (message is InvocationBindingFailureMessage failure)
            {
                message = new InvocationMessage(failure.InvocationId, failure.Target, [new UnboundArguments()]) { Headers = failure.Headers };
            }
            return true;
        }

        public void WriteMessage(HubMessage message, IBufferWriter<byte> output) => inner.WriteMessage(message, output);

        public ReadOnlyMemory<byte> GetMessageBytes(HubMessage message) => inner.GetMessageBytes(message);
    }
}
