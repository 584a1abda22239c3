using System.Collections;
using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json;
using Callern.Platform.Infrastructure;
using Microsoft.AspNetCore.SignalR;

namespace Callern.Platform.Signaling;

/// <summary>
/// The hub's edge check of <see cref="StorableText"/>: every string in every argument of every hub
/// method (nested in messages, lists and whiteboard JSON too) is storable, or the invocation is refused
/// with <c>invalid_argument</c> naming the field, before any service or the database sees it. A null
/// for a parameter that is not nullable (a message, a chat text) is refused the same way, and so are
/// arguments SignalR could not bind (<see cref="UnboundArguments"/>).
/// </summary>
public sealed class HubArgumentFilter : IHubFilter
{
    private static readonly ConcurrentDictionary<Type, PropertyInfo[]> Properties = new();
    private static readonly ConcurrentDictionary<ParameterInfo, bool> Nullable = new();

    public ValueTask<object?> InvokeMethodAsync(HubInvocationContext invocationContext, Func<HubInvocationContext, ValueTask<object?>> next)
    {
        if (invocationContext.HubMethodArguments is [UnboundArguments])
        {
            throw HubErrors.Create(HubErrors.InvalidArgument, UnboundArguments.Refusal);
        }
        var parameters = invocationContext.HubMethod.GetParameters();
        for (var i = 0; i < invocationContext.HubMethodArguments.Count && i < parameters.Length; i++)
        {
            var argument = invocationContext.HubMethodArguments[i];
            if (argument is null && !Nullable.GetOrAdd(parameters[i], p => new NullabilityInfoContext().Create(p).ReadState != NullabilityState.NotNull))
            {
                throw HubErrors.Create(HubErrors.InvalidArgument, $"{parameters[i].Name}: Required.");
            }
            if (Unstorable(argument, parameters[i].Name!) is { } field)
            {
                throw HubErrors.Create(HubErrors.InvalidArgument, $"{field}: {StorableText.Refusal}");
            }
        }
        return next(invocationContext);
    }

    /// <summary>The path of the first unstorable string in <paramref name="value"/>, or null.</summary>
    private static string? Unstorable(object? value, string path) => value switch
    {
        null => null,
        string text => StorableText.IsStorable(text) ? null : path,
        JsonElement json => StorableText.IsStorable(json) ? null : path,
        IEnumerable items => items.Cast<object?>().Select((item, i) => Unstorable(item, $"{path}[{i}]")).FirstOrDefault(f => f is not null),
        _ when value.GetType().Namespace?.StartsWith("Callern.Platform", StringComparison.Ordinal) == true =>
            Properties.GetOrAdd(value.GetType(), t => t.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanRead && p.GetIndexParameters().Length == 0).ToArray())
                .Select(p => Unstorable(p.GetValue(value), $"{path}.{JsonNamingPolicy.CamelCase.ConvertName(p.Name)}"))
                .FirstOrDefault(f => f is not null),
        _ => null,
    };
}
