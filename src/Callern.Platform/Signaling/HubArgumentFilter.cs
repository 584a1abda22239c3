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
    /// <summary>Per hub method, its parameters and whether each takes a null: read once, not on every invocation.</summary>
    private static readonly ConcurrentDictionary<MethodInfo, (string Name, bool Nullable)[]> Parameters = new();
    /// <summary>Per argument type, the properties that can hold text (a value type other than JSON cannot).</summary>
    private static readonly ConcurrentDictionary<Type, PropertyInfo[]> TextProperties = new();

    public ValueTask<object?> InvokeMethodAsync(HubInvocationContext invocationContext, Func<HubInvocationContext, ValueTask<object?>> next)
    {
        if (invocationContext.HubMethodArguments is [UnboundArguments])
        {
            throw HubErrors.Create(HubErrors.InvalidArgument, UnboundArguments.Refusal);
        }
        var parameters = Parameters.GetOrAdd(invocationContext.HubMethod, method => method.GetParameters()
            .Select(p => (p.Name!, new NullabilityInfoContext().Create(p).ReadState != NullabilityState.NotNull)).ToArray());
        for (var i = 0; i < invocationContext.HubMethodArguments.Count && i < parameters.Length; i++)
        {
            var argument = invocationContext.HubMethodArguments[i];
            var (name, nullable) = parameters[i];
            if (argument is null && !nullable)
            {
                throw HubErrors.Create(HubErrors.InvalidArgument, $"{name}: Required.");
            }
            if (!IsStorable(argument))
            {
                throw HubErrors.Create(HubErrors.InvalidArgument, $"{Unstorable(argument, name)}: {StorableText.Refusal}");
            }
        }
        return next(invocationContext);
    }

    /// <summary>Whether every string in <paramref name="value"/> is storable; on every signal and confirmation, so it allocates nothing.</summary>
    private static bool IsStorable(object? value)
    {
        switch (value)
        {
            case null:
                return true;
            case string text:
                return StorableText.IsStorable(text);
            case JsonElement json:
                return StorableText.IsStorable(json);
            case ValueType:
                return true;
            case IEnumerable items:
                foreach (var item in items)
                {
                    if (!IsStorable(item))
                    {
                        return false;
                    }
                }
                return true;
        }
        foreach (var property in PropertiesOf(value.GetType()))
        {
            if (!IsStorable(property.GetValue(value)))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>The path of the first unstorable string in <paramref name="value"/> (which has one), for the refusal.</summary>
    private static string? Unstorable(object? value, string path) => value switch
    {
        null => null,
        string text => StorableText.IsStorable(text) ? null : path,
        JsonElement json => StorableText.IsStorable(json) ? null : path,
        IEnumerable items => items.Cast<object?>().Select((item, i) => Unstorable(item, $"{path}[{i}]")).FirstOrDefault(f => f is not null),
        _ => PropertiesOf(value.GetType())
            .Select(p => Unstorable(p.GetValue(value), $"{path}.{JsonNamingPolicy.CamelCase.ConvertName(p.Name)}"))
            .FirstOrDefault(f => f is not null),
    };

    /// <summary>The platform's own message types' readable properties that can hold text; none for any other type.</summary>
    private static PropertyInfo[] PropertiesOf(Type type) => TextProperties.GetOrAdd(type, t =>
        t.Namespace?.StartsWith("Callern.Platform", StringComparison.Ordinal) != true ? []
            : t.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .Where(p => p.CanRead && p.GetIndexParameters().Length == 0
                    && (!p.PropertyType.IsValueType || p.PropertyType == typeof(JsonElement) || Nullable.GetUnderlyingType(p.PropertyType) == typeof(JsonElement)))
                .ToArray());
}
