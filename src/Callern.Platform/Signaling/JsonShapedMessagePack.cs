using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Encodings.Web;
using System.Text.Json;
using MessagePack;
using MessagePack.Formatters;
using MessagePack.Resolvers;

namespace Callern.HubProtocol;

/// <summary>
/// MessagePack for the hub with the JSON protocol's shape: an argument is the same tree of maps,
/// arrays, strings, numbers and booleans as its JSON (camelCase names, enums as camelCase strings,
/// ids and times as strings), written in MessagePack. So both SDKs, the TypeScript types and the
/// platform's argument checks read one contract whichever protocol a client picked; SignalR's own
/// MessagePack resolver would send C# property names and enums as numbers instead.
/// Strings, booleans and numbers are written natively; every other type goes through
/// System.Text.Json with the options the JSON protocol uses, and the tree is carried over token by
/// token. One source file, compiled into the platform and the C# SDK.
/// </summary>
internal sealed class JsonShapedMessagePack(JsonSerializerOptions json) : IFormatterResolver
{
    private readonly ConcurrentDictionary<Type, object> _formatters = new();

    /// <summary>MessagePack options for untrusted input (depth and collision limits) with this resolver.</summary>
    public static MessagePackSerializerOptions Options(JsonSerializerOptions json) =>
        MessagePackSerializerOptions.Standard.WithResolver(new JsonShapedMessagePack(json)).WithSecurity(MessagePackSecurity.UntrustedData);

    public IMessagePackFormatter<T>? GetFormatter<T>() =>
        IsNative(typeof(T))
            ? StandardResolver.Instance.GetFormatter<T>()
            : (IMessagePackFormatter<T>)_formatters.GetOrAdd(typeof(T), static (_, options) => new TreeFormatter<T>(options), json);

    private static bool IsNative(Type type) => type.IsPrimitive || type == typeof(string);

    private sealed class TreeFormatter<T>(JsonSerializerOptions json) : IMessagePackFormatter<T>
    {
        public void Serialize(ref MessagePackWriter writer, T value, MessagePackSerializerOptions options)
        {
            var scratch = Scratch.Start();
            JsonSerializer.Serialize(scratch.Json, value, json);
            scratch.Json.Flush();
            var reader = new Utf8JsonReader(scratch.Buffer.WrittenSpan);
            reader.Read();
            WriteValue(ref reader, ref writer);
        }

        public T Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options)
        {
            var scratch = Scratch.Start();
            WriteJson(ref reader, scratch.Json, options);
            scratch.Json.Flush();
            return JsonSerializer.Deserialize<T>(scratch.Buffer.WrittenSpan, json)!;
        }
    }

    /// <summary>
    /// The JSON text of one value on its way in or out, in a buffer and writer kept per thread: a
    /// conversion runs to its end on the thread that started it and never starts another meanwhile.
    /// </summary>
    private sealed class Scratch
    {
        [ThreadStatic]
        private static Scratch? t_current;

        public ArrayBufferWriter<byte> Buffer { get; } = new(1024);

        // The escaping is undone before the text leaves (only values cross), so escape only what JSON must.
        public Utf8JsonWriter Json { get; }

        private Scratch() => Json = new Utf8JsonWriter(Buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

        public static Scratch Start()
        {
            var scratch = t_current ??= new Scratch();
            scratch.Buffer.ResetWrittenCount();
            scratch.Json.Reset(scratch.Buffer);
            return scratch;
        }
    }

    /// <summary>Writes the JSON value at the reader (positioned on its first token) as MessagePack.</summary>
    private static void WriteValue(ref Utf8JsonReader json, ref MessagePackWriter writer)
    {
        switch (json.TokenType)
        {
            case JsonTokenType.StartObject:
                writer.WriteMapHeader(CountItems(json));
                while (json.Read() && json.TokenType == JsonTokenType.PropertyName)
                {
                    WriteString(ref json, ref writer);
                    json.Read();
                    WriteValue(ref json, ref writer);
                }
                break;
            case JsonTokenType.StartArray:
                writer.WriteArrayHeader(CountItems(json));
                while (json.Read() && json.TokenType != JsonTokenType.EndArray)
                {
                    WriteValue(ref json, ref writer);
                }
                break;
            case JsonTokenType.String:
                WriteString(ref json, ref writer);
                break;
            case JsonTokenType.Number when json.TryGetInt64(out var whole):
                writer.Write(whole);
                break;
            case JsonTokenType.Number:
                writer.Write(json.GetDouble());
                break;
            case JsonTokenType.True or JsonTokenType.False:
                writer.Write(json.GetBoolean());
                break;
            default:
                writer.WriteNil();
                break;
        }
    }

    /// <summary>The members of the object or array the reader is on, counted on a copy of the reader.</summary>
    private static int CountItems(Utf8JsonReader probe)
    {
        var count = 0;
        while (probe.Read() && probe.TokenType is not (JsonTokenType.EndObject or JsonTokenType.EndArray))
        {
            if (probe.TokenType == JsonTokenType.PropertyName)
            {
                probe.Read();
            }
            probe.Skip();
            count++;
        }
        return count;
    }

    private static void WriteString(ref Utf8JsonReader json, ref MessagePackWriter writer)
    {
        if (json.ValueIsEscaped || json.HasValueSequence)
        {
            writer.Write(json.GetString());
        }
        else
        {
            writer.WriteString(json.ValueSpan);
        }
    }

    /// <summary>Writes the MessagePack value at the reader as JSON; binary and extension values are refused.</summary>
    private static void WriteJson(ref MessagePackReader reader, Utf8JsonWriter json, MessagePackSerializerOptions options)
    {
        switch (reader.NextMessagePackType)
        {
            case MessagePackType.Map:
                options.Security.DepthStep(ref reader);
                var members = reader.ReadMapHeader();
                json.WriteStartObject();
                for (var i = 0; i < members; i++)
                {
                    if (reader.NextMessagePackType != MessagePackType.String)
                    {
                        throw new MessagePackSerializationException("A map's keys must be strings.");
                    }
                    if (reader.TryReadStringSpan(out var name))
                    {
                        json.WritePropertyName(name);
                    }
                    else
                    {
                        json.WritePropertyName(reader.ReadString()!);
                    }
                    WriteJson(ref reader, json, options);
                }
                json.WriteEndObject();
                reader.Depth--;
                break;
            case MessagePackType.Array:
                options.Security.DepthStep(ref reader);
                var items = reader.ReadArrayHeader();
                json.WriteStartArray();
                for (var i = 0; i < items; i++)
                {
                    WriteJson(ref reader, json, options);
                }
                json.WriteEndArray();
                reader.Depth--;
                break;
            case MessagePackType.String when reader.TryReadStringSpan(out var text):
                json.WriteStringValue(text);
                break;
            case MessagePackType.String:
                json.WriteStringValue(reader.ReadString());
                break;
            case MessagePackType.Integer when reader.NextCode == MessagePackCode.UInt64:
                json.WriteNumberValue(reader.ReadUInt64());
                break;
            case MessagePackType.Integer:
                json.WriteNumberValue(reader.ReadInt64());
                break;
            case MessagePackType.Float:
                json.WriteNumberValue(reader.ReadDouble());
                break;
            case MessagePackType.Boolean:
                json.WriteBooleanValue(reader.ReadBoolean());
                break;
            case MessagePackType.Nil:
                reader.ReadNil();
                json.WriteNullValue();
                break;
            default:
                throw new MessagePackSerializationException($"A {reader.NextMessagePackType} value has no JSON shape.");
        }
    }
}
