using Callern.Platform.Infrastructure;
using Microsoft.AspNetCore.SignalR;

namespace Callern.Platform.Signaling;

/// <summary>
/// An overloaded node (<see cref="ApiConventions.IsOverload"/>), or one that cannot reach the
/// backplane (<see cref="Backplane"/>) to deliver what a hub method sends, answers the method with
/// the error <c>unavailable</c>, which clients retry, instead of SignalR's unexplained server error.
/// </summary>
public sealed class HubUnavailableFilter : IHubFilter
{
    public async ValueTask<object?> InvokeMethodAsync(HubInvocationContext invocationContext, Func<HubInvocationContext, ValueTask<object?>> next)
    {
        try
        {
            return await next(invocationContext);
        }
        catch (Exception exception) when (ApiConventions.UnavailableReason(exception) is { } reason)
        {
            throw HubErrors.Create(HubErrors.Unavailable, reason);
        }
    }
}
